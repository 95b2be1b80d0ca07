package dev.gpt2j.cli;

import dev.gpt2j.kernels.AutoDType;
import dev.gpt2j.kernels.CpuFlags;
import dev.gpt2j.model.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.apache.commons.cli.Option;

/**
 * {@code --dtype auto|float32|bfloat16} of a command that loads a model to run it: what it is when
 * not given ({@code fallback}) and what {@code auto} picks for the command's work; and the
 * benchmarks' {@code --dtype LIST}.
 */
record DTypeOption(String fallback, Supplier<AutoDType> auto) {

  /** Decoding ({@code sample}, {@code serve}): auto by default, auto as decoding measured. */
  static final DTypeOption DECODING = new DTypeOption(AutoDType.LABEL, AutoDType::forDecoding);

  private static final Supplier<AutoDType> WHOLE_SEQUENCES =
      () -> AutoDType.forWholeSequences(CpuFlags.ofThisMachine());

  /** Whole sequences ({@code score}): auto by default. */
  static final DTypeOption SCORING = new DTypeOption(AutoDType.LABEL, WHOLE_SEQUENCES);

  /** {@code eval}: float32 by default, its figures being compared with float32 ones. */
  static final DTypeOption EVALUATION = new DTypeOption(DType.FLOAT32.label, WHOLE_SEQUENCES);

  /** The option, saying what it is when not given. */
  Option option() {
    return Option.builder()
        .longOpt("dtype")
        .hasArg()
        .argName("T")
        .desc(
            AutoDType.CHOICES
                + " (default "
                + fallback
                + "): bfloat16 holds the weight matrices in half the memory and reads half the "
                + "bytes per token; norms, softmax and the KV cache stay float32. auto takes "
                + "bfloat16 where it measured faster on this kind of processor and says which")
        .build();
  }

  /**
   * A command's dtype, and the line that says why when auto picked it (empty when it was given).
   * {@link ModelOpening} says it once the model is loaded, so that bad input still gets one line.
   */
  record Chosen(DType dtype, String why) {}

  /** The option's dtype, the fallback when not given; for auto, what auto picks. */
  Chosen of(Args args) {
    String label = args.string("dtype", fallback);
    if (!label.equals(AutoDType.LABEL)) {
      return new Chosen(parse(label, AutoDType.CHOICES), "");
    }
    AutoDType choice = auto.get();
    return new Chosen(choice.dtype(), choice.line());
  }

  /** The benchmarks' option: {@code more} follows the list's description. */
  static Option listOption(String more) {
    return Option.builder()
        .longOpt("dtype")
        .hasArg()
        .argName("LIST")
        .desc("comma-separated dtypes to measure side by side (default float32,bfloat16)" + more)
        .build();
  }

  static List<DType> listOf(Args args) {
    List<DType> dtypes = new ArrayList<>();
    for (String label : args.string("dtype", "float32,bfloat16").split(",")) {
      dtypes.add(parse(label, "float32 or bfloat16"));
    }
    return dtypes;
  }

  private static DType parse(String label, String expected) {
    try {
      return DType.of(label, "--dtype");
    } catch (IllegalArgumentException e) {
      throw new UsageException("--dtype must be " + expected + ", got '" + label + "'");
    }
  }
}
