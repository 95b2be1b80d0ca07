package dev.gpt2j.model;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * The number format of the weight matrices (wte, wpe and every linear layer's w) and of the
 * products with them. Layer norms, biases, softmax, the KV cache and the loss stay float32 either
 * way, and checkpoints are always float32 in OpenAI's layout.
 */
public enum DType {
  FLOAT32("float32", TFloat32.class),
  BFLOAT16("bfloat16", TBfloat16.class);

  public final String label;
  public final Class<? extends TNumber> type;

  DType(String label, Class<? extends TNumber> type) {
    this.label = label;
    this.type = type;
  }

  /** float32 or bfloat16; anything else is an error naming {@code option}. */
  public static DType of(String label, String option) {
    for (DType d : values()) {
      if (d.label.equals(label)) {
        return d;
      }
    }
    throw new IllegalArgumentException(
        option + " must be float32 or bfloat16, got '" + label + "'");
  }

  /** Bytes per weight-matrix element. */
  public int bytes() {
    return this == FLOAT32 ? 4 : 2;
  }

  /** {@code x} as float32: itself when it is, else a cast (a bfloat16 weight widened). */
  @SuppressWarnings("unchecked")
  public static Operand<TFloat32> float32(Ops tf, Operand<? extends TNumber> x) {
    return x.type() == TFloat32.class ? (Operand<TFloat32>) x : tf.dtypes.cast(x, TFloat32.class);
  }
}
