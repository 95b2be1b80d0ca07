package dev.gpt2j.cli;

import dev.gpt2j.train.ConfigKey;
import dev.gpt2j.train.TrainConfig;
import dev.gpt2j.train.Trainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code train}: a config file plus {@code --key=value} overrides, like nanoGPT's configurator. */
final class TrainCommand implements Command {
  @Override
  public String name() {
    return "train";
  }

  @Override
  public String summary() {
    return "train or fine-tune (XLA-compiled step, AdamW or Adafactor); saves in OpenAI's layout";
  }

  @Override
  public Options options() {
    Options o =
        new Options()
            .addOption(
                Option.builder()
                    .longOpt("config")
                    .hasArg()
                    .argName("FILE")
                    .desc(
                        "a .properties file of the keys below (e.g. configs/shakespeare.properties)")
                    .build())
            .addOption(ModelOpening.dryRunOption("training (the same as --dry_run=true)"));
    TrainConfig.KEYS.forEach(
        k ->
            o.addOption(
                Option.builder()
                    .longOpt(k.name())
                    .hasArg()
                    .argName("V")
                    .desc(
                        k.help()
                            + (k.defaultText().isEmpty()
                                ? " (default: empty)"
                                : " (default " + k.defaultText() + ")"))
                    .build()));
    return o;
  }

  @Override
  public String helpFooter() {
    return "\nKeys come from the config file, then from --key=value options. Ctrl-C or SIGTERM saves "
        + "the current step before exiting; init_from=resume continues from it.";
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) {
    Map<String, String> overrides = new LinkedHashMap<>();
    for (ConfigKey key : TrainConfig.KEYS) {
      if (args.has(key.name())) {
        overrides.put(key.name(), args.string(key.name(), null));
      }
    }
    if (args.has("dry-run")) {
      overrides.put("dry_run", "true");
    }
    if (args.rest().length > 0) {
      throw new UsageException(
          "unexpected argument '" + args.rest()[0] + "' (options are --key=value)");
    }
    TrainConfig config;
    try {
      config =
          TrainConfig.load(
              args.has("config") ? Path.of(args.string("config", null)) : null, overrides);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    if (config.dryRun()) {
      ModelOpening.printPlan(new Trainer(config, out, () -> false).memoryPlan(), out);
      return 0;
    }
    try (StopOnSignal stop =
        new StopOnSignal(
            err,
            "saving the current step, then stopping",
            "the step was not saved; the last checkpoint is intact")) {
      Trainer.Outcome outcome = new Trainer(config, out, stop::requested).run();
      if (outcome.end() == Trainer.End.STOPPED) {
        return stop.exitCode();
      }
      if (outcome.end() == Trainer.End.NOTHING_TO_DO) {
        return 0;
      }
      out.printf(
          "done: iter %d, train loss %.4f, val loss %.4f%n",
          outcome.iter(), outcome.trainLoss(), outcome.valLoss());
      return 0;
    } catch (Trainer.DivergedException e) {
      err.println("gpt2 train: " + e.getMessage());
      return 1;
    }
  }
}
