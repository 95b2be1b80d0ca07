package dev.gpt2j.train;

import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A resumed run keeps the model it was made with: its model keys (n_layer ... moe_top_k) are read
 * from the run's hparams.json, so that its config.properties records the model it trains, and a key
 * given with a different model is refused rather than ignored.
 */
final class ResumedModel {
  private ResumedModel() {}

  private static final List<String> SIZES = List.of("n_layer", "n_head", "n_embd", "n_ctx");

  /**
   * Puts the run's model keys into {@code texts} (every key's text); a key in {@code given} (set by
   * the config file or the command line) that describes another model is refused, naming the key
   * and both values. Does nothing when out_dir has no hparams.json: the trainer then says there is
   * nothing to resume.
   */
  static void adopt(Map<String, String> texts, Set<String> given) {
    Path dir = Path.of(texts.get("out_dir"));
    Path file = dir.resolve(HParams.FILE_NAME);
    if (!Files.exists(file)) {
      return;
    }
    HParams run = ModelDir.readHParams(file);
    Map<String, String> runs = texts(run);
    for (Map.Entry<String, String> key : runs.entrySet()) {
      String asked = texts.get(key.getKey());
      if (given.contains(key.getKey()) && !describes(run, runs, key.getKey(), asked)) {
        throw new IllegalArgumentException(
            String.format(
                "%s: the run in %s was made with %s = %s, not %s; a resumed run keeps its model"
                    + " (leave %s out, or train a new one in another out_dir)",
                key.getKey(), dir, key.getKey(), key.getValue(), asked, key.getKey()));
      }
    }
    texts.putAll(runs);
  }

  // the model keys' texts as a config writes them
  private static Map<String, String> texts(HParams hp) {
    Map<String, String> texts = new LinkedHashMap<>();
    texts.put("n_layer", String.valueOf(hp.nLayer()));
    texts.put("n_head", String.valueOf(hp.nHead()));
    texts.put("n_embd", String.valueOf(hp.nEmbd()));
    texts.put("n_ctx", String.valueOf(hp.nCtx()));
    Architecture.keys().forEach(k -> texts.put(k, hp.arch().text(k)));
    return texts;
  }

  // whether the run's model with `key` set to `text` is still the run's model (0 = default sizes)
  private static boolean describes(HParams run, Map<String, String> runs, String key, String text) {
    Map<String, String> with = new LinkedHashMap<>(runs);
    with.put(key, text.trim());
    try {
      Map<String, String> arch = new LinkedHashMap<>(with);
      SIZES.forEach(arch::remove);
      return run.equals(
          new HParams(
              run.nVocab(),
              Integer.parseInt(with.get("n_ctx")),
              Integer.parseInt(with.get("n_embd")),
              Integer.parseInt(with.get("n_head")),
              Integer.parseInt(with.get("n_layer")),
              Architecture.fromText(arch)));
    } catch (IllegalArgumentException e) { // not a model at all
      return false;
    }
  }
}
