package dev.gpt2j.cli;

import dev.gpt2j.model.DType;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.Option;

/**
 * {@code --dtype float32|bfloat16}, shared by the commands that load a model to run it, and the
 * benchmarks' {@code --dtype LIST}.
 */
final class DTypeOption {
  private DTypeOption() {}

  static Option option() {
    return Option.builder()
        .longOpt("dtype")
        .hasArg()
        .argName("T")
        .desc(
            "float32 (default) or bfloat16: weight matrices held in bfloat16, half the memory "
                + "and half the bytes read per token; norms, softmax and the KV cache stay float32")
        .build();
  }

  static DType of(Args args) {
    return parse(args.string("dtype", DType.FLOAT32.label));
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
      dtypes.add(parse(label));
    }
    return dtypes;
  }

  private static DType parse(String label) {
    try {
      return DType.of(label, "--dtype");
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
  }
}
