package dev.gpt2j.model;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * What attention remembers of earlier positions: openai's {@code past} tensor ({@link #past}), or a
 * sampler's KV cache. Given a layer's new keys and values, it returns all of them, oldest first
 * (possibly in a longer buffer whose tail {@link KeysValues#valid} leaves out).
 */
public interface Memory {
  /**
   * One layer's keys and values, [B, H, S, D] each, of which the first {@code valid} (int32 scalar)
   * positions hold keys: a preallocated cache may be longer than what it holds, and attention masks
   * its tail.
   */
  record KeysValues(Operand<TFloat32> k, Operand<TFloat32> v, Operand<TInt32> valid) {
    /** Keys and values that are all valid. */
    public KeysValues(Ops tf, Operand<TFloat32> k, Operand<TFloat32> v) {
      this(k, v, Gpt2.dim(tf, k, 2));
    }
  }

  /** How many positions are remembered (the position of the first new token), int32 scalar. */
  Operand<TInt32> length();

  KeysValues extend(Ops tf, int layer, KeysValues fresh);

  /** openai/gpt-2's past [B, n_layer, 2, H, S, D]: each layer's keys and values concat new ones. */
  static Memory past(Ops tf, Operand<TFloat32> past, int nLayer) {
    List<Output<TFloat32>> layers = tf.unstack(past, (long) nLayer, Unstack.axis(1L)).output();
    Operand<TInt32> length = Gpt2.dim(tf, past, 4);
    return new Memory() {
      @Override
      public Operand<TInt32> length() {
        return length;
      }

      @Override
      public KeysValues extend(Ops tf, int layer, KeysValues fresh) {
        List<Output<TFloat32>> kv = tf.unstack(layers.get(layer), 2L, Unstack.axis(1L)).output();
        return new KeysValues(
            tf,
            tf.concat(List.of(kv.get(0), fresh.k()), tf.constant(-2)),
            tf.concat(List.of(kv.get(1), fresh.v()), tf.constant(-2)));
      }
    };
  }
}
