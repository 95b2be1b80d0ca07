package dev.gpt2j.cli;

import dev.gpt2j.kernels.AutoDType;
import dev.gpt2j.model.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.apache.commons.cli.Option;

/**
 * {@code --dtype auto|float32|bfloat16}, shared by the commands that load a model to run it, and
 * the benchmarks' {@code --dtype LIST}.
 */
final class DTypeOption {
  private DTypeOption() {}

  /** The option, saying that {@code fallback} is what it is when not given. */
  static Option option(String fallback) {
    return Option.builder()
        .longOpt("dtype")
        .hasArg()
        .argName("T")
        .desc(
            "auto, float32 or bfloat16 (default "
                + fallback
                + "): bfloat16 holds the weight matrices in half the memory and reads half the "
                + "bytes per token; norms, softmax and the KV cache stay float32. auto takes "
                + "bfloat16 where it measured faster on this kind of processor and says which")
        .build();
  }

  /**
   * A command's dtype, and the line that says why when auto picked it (empty when it was given).
   * {@link ModelLoading} says it once the model is loaded, so that bad input still gets one line.
   */
  record Chosen(DType dtype, String why) {}

  /** The option's dtype, {@code fallback} when not given; for auto, what {@code auto} picks. */
  static Chosen of(Args args, String fallback, Supplier<AutoDType> auto) {
    String label = args.string("dtype", fallback);
    if (!label.equals(AutoDType.LABEL)) {
      return new Chosen(parse(label, "auto, float32 or bfloat16"), "");
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
