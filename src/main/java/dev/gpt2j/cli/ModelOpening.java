package dev.gpt2j.cli;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.ModelSource;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.Ticker;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.commons.cli.Option;

/**
 * The one way a command opens a model: the directory read once, the dtype chosen, then either the
 * memory plan printed ({@code --dry-run}) or the plan checked against the free memory and the
 * weights loaded, with a word on stderr when loading takes more than a moment and which dtype auto
 * picked, if it did.
 */
final class ModelOpening {
  private static final long QUIET_S = 2;

  private final Args args;
  private final ModelSource source;
  private final DTypeOption.Chosen dtype;

  private ModelOpening(Args args, ModelSource source, DTypeOption.Chosen dtype) {
    this.args = args;
    this.source = source;
    this.dtype = dtype;
  }

  /** {@code --dry-run}, as every command that plans its memory declares it. */
  static Option dryRunOption(String what) {
    return Option.builder()
        .longOpt("dry-run")
        .desc("print the memory plan and exit without " + what)
        .build();
  }

  /** Reads the model directory {@code dir} and the command's dtype option. */
  static ModelOpening of(Args args, Path dir, DTypeOption dtypeOption) {
    return new ModelOpening(args, ModelSource.read(dir), dtypeOption.of(args));
  }

  /** A model loaded in float32 whatever the command's options (export writes float32). */
  static ModelOpening float32(Args args, Path dir) {
    return new ModelOpening(args, ModelSource.read(dir), new DTypeOption.Chosen(DType.FLOAT32, ""));
  }

  HParams hparams() {
    return source.hparams();
  }

  Tokenizer tokenizer() {
    return source.tokenizer();
  }

  Path dir() {
    return source.dir();
  }

  DType dtype() {
    return dtype.dtype();
  }

  /** A command's work on the loaded model; its result is the exit code. */
  interface Work {
    int run(Gpt2Model model) throws Exception;
  }

  /** The whole sequence: the plan printed on {@code --dry-run}, else checked, loaded, worked. */
  int run(MemoryPlan plan, PrintStream out, PrintStream err, Work work) throws Exception {
    if (stopsAtPlan(args, plan, out)) {
      return 0;
    }
    try (Gpt2Model model = load(err)) {
      return work.run(model);
    }
  }

  /**
   * On {@code --dry-run}, prints {@code plan} and says so: the command stops there. Else refuses a
   * plan that does not fit in the memory free now, before anything is loaded.
   */
  static boolean stopsAtPlan(Args args, MemoryPlan plan, PrintStream out) {
    if (args.has("dry-run")) {
      printPlan(plan, out);
      return true;
    }
    plan.requireFits(SystemMemory.available());
    return false;
  }

  /** What {@code --dry-run} prints. */
  static void printPlan(MemoryPlan plan, PrintStream out) {
    out.println(plan.dryRun(SystemMemory.available()));
  }

  /**
   * Loads the weights, for a command that reads its input between planning and loading: its plan
   * has passed {@link #stopsAtPlan} first.
   */
  Gpt2Model load(PrintStream err) {
    Gpt2Model model;
    try (Ticker ticker = Ticker.after(QUIET_S, err, "loading " + source.dir())) {
      model = Gpt2Model.load(source, dtype.dtype());
    }
    if (!dtype.why().isEmpty()) {
      err.println(dtype.why());
    }
    return model;
  }
}
