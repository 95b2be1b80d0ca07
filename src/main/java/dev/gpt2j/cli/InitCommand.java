package dev.gpt2j.cli;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelSize;
import dev.gpt2j.util.Ticker;
import dev.gpt2j.util.WritableDir;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code init}: a freshly initialised model in OpenAI's layout. */
final class InitCommand implements Command {
  @Override
  public String name() {
    return "init";
  }

  @Override
  public String summary() {
    return "write a freshly initialised GPT-2 in OpenAI's checkpoint layout";
  }

  @Override
  public Options options() {
    Options options = new Options();
    for (String key : Architecture.keys()) {
      options.addOption(
          Option.builder()
              .longOpt(option(key))
              .hasArg()
              .argName("V")
              .desc("as the train key " + key + " (default: GPT-2's)")
              .build());
    }
    return options
        .addOption(ModelDirOption.option("directory to create (must not exist or be empty)"))
        .addOption(
            Option.builder()
                .longOpt("like")
                .hasArg()
                .argName("SIZE")
                .desc("shape of one of OpenAI's models: " + ModelSize.labels())
                .build())
        .addOption(intOpt("n-layer", "transformer blocks"))
        .addOption(intOpt("n-head", "attention heads (must divide n-embd)"))
        .addOption(intOpt("n-embd", "embedding width"))
        .addOption(intOpt("n-ctx", "context length (positions)"))
        .addOption(intOpt("n-vocab", "vocabulary size (default " + HParams.GPT2_VOCAB + ")"))
        .addOption(
            Option.builder()
                .longOpt("seed")
                .hasArg()
                .argName("N")
                .desc("random seed (default 0)")
                .build())
        .addOption(ModelOpening.dryRunOption("building the model"));
  }

  private static Option intOpt(String name, String desc) {
    return Option.builder().longOpt(name).hasArg().argName("N").desc(desc).build();
  }

  @Override
  public String helpFooter() {
    return "\nInitialisers are openai/gpt-2's: wte N(0,0.02), wpe N(0,0.01), conv weights N(0,0.02)"
        + " (c_gate and a mixture's router too), biases 0, norm gains 1.";
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) {
    Path dir = ModelDirOption.of(args, null);
    HParams hp = hparams(args);
    if (ModelOpening.stopsAtPlan(args, MemoryPlan.initializing(hp), out)) {
      return 0;
    }
    ModelDir.requireAbsentOrEmpty(dir); // before the model is built, which takes a while
    WritableDir.require(dir, "--model-dir");
    long seed = args.longValue("seed", 0);
    long start = System.nanoTime();
    try (Ticker ticker =
            Ticker.after(
                2,
                err,
                String.format("initialising %,d weights into %s", hp.parameterCount(), dir));
        Gpt2Model model = Gpt2Model.fresh(hp, seed)) {
      model.save(dir);
    }
    out.printf(
        "wrote %s: %,d parameters (%s) in %.1f s%n",
        dir, hp.parameterCount(), hp.describe(), (System.nanoTime() - start) / 1e9);
    return 0;
  }

  private static HParams hparams(Args args) {
    HParams base = args.has("like") ? ModelSize.of(args.string("like", null)).hparams : null;
    for (String shape : List.of("n-layer", "n-head", "n-embd", "n-ctx")) {
      if (base != null && args.has(shape)) {
        throw new UsageException(
            "--like "
                + args.string("like", null)
                + " sets n_layer, n_head, n_embd and n_ctx: give --like or those four, not --"
                + shape
                + " too");
      }
    }
    if (base == null
        && !(args.has("n-layer")
            && args.has("n-head")
            && args.has("n-embd")
            && args.has("n-ctx"))) {
      throw new UsageException("give --like SIZE or all of --n-layer, --n-head, --n-embd, --n-ctx");
    }
    return new HParams(
        args.integer("n-vocab", base == null ? HParams.GPT2_VOCAB : base.nVocab()),
        args.integer("n-ctx", base == null ? 0 : base.nCtx()),
        args.integer("n-embd", base == null ? 0 : base.nEmbd()),
        args.integer("n-head", base == null ? 0 : base.nHead()),
        args.integer("n-layer", base == null ? 0 : base.nLayer()),
        architecture(args));
  }

  // --norm, --mlp, ... as hparams.json's keys
  private static Architecture architecture(Args args) {
    Map<String, String> given = new LinkedHashMap<>();
    for (String key : Architecture.keys()) {
      if (args.has(option(key))) {
        given.put(key, args.string(option(key), ""));
      }
    }
    try {
      return Architecture.fromText(given);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      for (String key : given.keySet()) { // "n_kv_head" must be ... -> --n-kv-head must be ...
        message = message.replace("\"" + key + "\"", "--" + option(key));
      }
      throw new UsageException(message);
    }
  }

  private static String option(String key) {
    return key.replace('_', '-');
  }
}
