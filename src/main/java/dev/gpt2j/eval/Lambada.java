package dev.gpt2j.eval;

import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LAMBADA as the GPT-2 paper and EleutherAI's harness score it: the text is split at its last
 * space, the target {@code " " + last word} is encoded apart from the context; {@code acc} counts
 * the examples where every target token is the model's argmax (greedy decoding gives the word),
 * {@code ppl} is exp of the mean over examples of the target's summed loss (per word).
 */
final class Lambada extends Task<Lambada.Example, Lambada.Scored> {

  record Example(int index, int[] context, int[] target) {}

  record Scored(int index, boolean correct, double loss, int nTokens) {}

  Lambada(List<Example> examples) {
    super("lambada", "acc", examples);
  }

  static Lambada read(Path file, String option, Tokenizer tokenizer, int nCtx, int limit) {
    List<Example> examples = new ArrayList<>();
    for (JsonLines.Row row : JsonLines.read(file, option, limit)) {
      String text = row.string("text");
      int space = text.lastIndexOf(' ');
      if (space <= 0 || space == text.length() - 1) {
        throw row.error("text", "no last word after a space to predict");
      }
      int[] target = Rows.encode(row, "text", tokenizer, text.substring(space));
      int[] context = Rows.encode(row, "text", tokenizer, text.substring(0, space));
      context = Rows.fitContext(row, "text", "text", context, new int[][] {target}, nCtx);
      examples.add(new Example(examples.size(), context, target));
    }
    return new Lambada(examples);
  }

  @Override
  int[] prefix(Example e) {
    return e.context();
  }

  @Override
  int[][] continuations(Example e) {
    return new int[][] {e.target()};
  }

  @Override
  Scored result(Example e, ContinuationScorer.Scores scores, int first) {
    boolean correct = true;
    for (boolean hit : scores.greedy()[first]) {
      correct &= hit;
    }
    return new Scored(e.index(), correct, -Rows.sum(scores.logprobs()[first]), e.target().length);
  }

  @Override
  List<Metric> metrics(List<Scored> results) {
    int n = results.size();
    double mean = results.stream().mapToDouble(Scored::loss).average().orElse(Double.NaN);
    double var =
        results.stream().mapToDouble(r -> (r.loss() - mean) * (r.loss() - mean)).sum()
            / Math.max(n - 1, 1);
    double stderr = n > 1 ? Math.sqrt(var / n) : Double.NaN;
    return List.of(
        Metric.accuracy("acc", results.stream().filter(Scored::correct).count(), n),
        Metric.ofMean("ppl", mean, stderr, Math::exp));
  }

  @Override
  Map<String, Object> json(Scored r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("index", r.index());
    m.put("correct", r.correct());
    m.put("loss", r.loss());
    m.put("n_tokens", r.nTokens());
    return m;
  }
}
