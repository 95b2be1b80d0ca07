package dev.gpt2j.model;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * openai/gpt-2's {@code past}, [B, n_layer, 2, Hkv, S, D] (a {@link Gpt2.Forward#present} of an
 * earlier pass), as a {@link Memory}: each layer's keys and values are the past ones, then the new
 * ones.
 */
public final class Past implements Memory {
  private final List<Output<TFloat32>> layers;
  private final Operand<TInt32> length;

  public Past(Ops tf, Operand<TFloat32> past, int nLayer) {
    layers = tf.unstack(past, (long) nLayer, Unstack.axis(1L)).output();
    length = Gpt2.dim(tf, past, 4);
  }

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
}
