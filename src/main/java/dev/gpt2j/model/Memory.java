package dev.gpt2j.model;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * What attention remembers of earlier positions: a sampler's KV cache, or openai's {@code past}
 * tensor ({@link Past}: the contexts a continuation scorer runs its continuations on). Given a
 * layer's new keys and values, it returns all of them, oldest first (possibly in a longer buffer
 * whose tail {@link KeysValues#valid} leaves out).
 */
public interface Memory {
  /**
   * One layer's keys and values, [B, H, S, D] each, of which the first {@code valid} positions hold
   * keys (int32, a scalar, or [B] when rows hold different lengths): a preallocated cache may be
   * longer than what it holds, and attention masks its tail.
   */
  record KeysValues(Operand<TFloat32> k, Operand<TFloat32> v, Operand<TInt32> valid) {
    /** Keys and values that are all valid. */
    public KeysValues(Ops tf, Operand<TFloat32> k, Operand<TFloat32> v) {
      this(k, v, Gpt2.dim(tf, k, 2));
    }
  }

  /**
   * How many positions are remembered (the position of the first new token): an int32 scalar, or
   * [B], one per row, when rows hold different lengths.
   */
  Operand<TInt32> length();

  KeysValues extend(Ops tf, int layer, KeysValues fresh);
}
