package dev.gpt2j.model;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * How a graph multiplies activations by weights. Each graph says which it wants: {@link #MATMUL}
 * everywhere, except a decoding step, which may ask for a matrix-vector kernel, and bfloat16
 * training, which asks for {@link #BFLOAT16_MATMUL}.
 */
@FunctionalInterface
public interface Product {
  // x [M, K] times w ([K, N], or [N, K] with transposeW; float32 or bfloat16) -> [M, N] float32
  Operand<TFloat32> apply(
      Ops tf, Operand<TFloat32> x, Operand<? extends TNumber> w, boolean transposeW);

  /** TF's MatMul in the weights' dtype: x is rounded to bfloat16 for bfloat16 weights. */
  Product MATMUL = Product::matMul;

  /**
   * TF's MatMul on bfloat16 copies of both operands (oneDNN accumulates in float32), the product
   * widened back: mixed precision with float32 weights, as PyTorch's autocast does.
   */
  Product BFLOAT16_MATMUL =
      (tf, x, w, transposeW) -> matMul(tf, x, tf.dtypes.cast(w, TBfloat16.class), transposeW);

  private static <T extends TNumber> Operand<TFloat32> matMul(
      Ops tf, Operand<TFloat32> x, Operand<T> w, boolean transposeW) {
    return DType.float32(
        tf, tf.linalg.matMul(as(tf, x, w.type()), w, MatMul.transposeB(transposeW)));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TNumber> Operand<T> as(Ops tf, Operand<TFloat32> x, Class<T> type) {
    return type == TFloat32.class ? (Operand<T>) x : tf.dtypes.cast(x, type);
  }
}
