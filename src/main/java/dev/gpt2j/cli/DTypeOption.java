package dev.gpt2j.cli;

import dev.gpt2j.model.DType;
import org.apache.commons.cli.Option;

/** {@code --dtype float32|bfloat16}, shared by the commands that load a model to run it. */
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
    try {
      return DType.of(args.string("dtype", DType.FLOAT32.label), "--dtype");
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
  }
}
