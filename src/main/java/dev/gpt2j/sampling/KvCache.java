package dev.gpt2j.sampling;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TType;

/**
 * A KV cache in TF resource variables: keys and values [B, H, S, D] of each layer in a variable of
 * their own. A step reads them (no copy), appends the new positions (one contiguous copy per
 * head), and assigns the result back (the new buffer is moved in, not copied). Nothing crosses
 * into Java, and no op touches more than one layer's keys or values at a time.
 */
final class KvCache implements Gpt2.Memory {
  private final List<Operand<? extends TType>> handles = new ArrayList<>();
  private final List<Operand<TFloat32>> past = new ArrayList<>();
  private final List<Op> writes = new ArrayList<>();
  final Placeholder<TInt32> batchSize;
  /** Empties the cache for a batch of {@code batchSize} rows. */
  final Op reset;
  private final Operand<TInt32> length;

  KvCache(Ops tf, HParams hp) {
    Ops s = tf.withSubScope("kv_cache");
    batchSize = s.withName("batch_size").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    Operand<TFloat32> empty = s.zeros(s.stack(List.of(batchSize, s.constant(hp.nHead()),
        s.constant(0), s.constant(hp.headSize()))), TFloat32.class);
    List<Op> resets = new ArrayList<>();
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      for (String kind : List.of("k", "v")) {
        Operand<? extends TType> var = s.withSubScope("h" + layer).withName(kind).varHandleOp(
            TFloat32.class, Shape.of(-1, hp.nHead(), -1, hp.headSize()),
            VarHandleOp.sharedName("kv_cache/h" + layer + "/" + kind));
        handles.add(var);
        past.add(s.readVariableOp(var, TFloat32.class));
        resets.add(s.assignVariableOp(var, empty));
      }
    }
    reset = s.withControlDependencies(resets).noOp();
    length = s.gather(s.shape(past.get(0)), s.constant(2), s.constant(0));
  }

  @Override
  public Operand<TInt32> length() {
    return length;
  }

  @Override
  public Gpt2.KeysValues extend(Ops tf, int layer, Gpt2.KeysValues fresh) {
    Operand<TFloat32> k = tf.concat(List.of(past.get(2 * layer), fresh.k()), tf.constant(2));
    Operand<TFloat32> v = tf.concat(List.of(past.get(2 * layer + 1), fresh.v()), tf.constant(2));
    writes.add(tf.assignVariableOp(handles.get(2 * layer), k));
    writes.add(tf.assignVariableOp(handles.get(2 * layer + 1), v));
    return new Gpt2.KeysValues(k, v);
  }

  /** Stores every layer's extended keys and values; run it with each step. */
  Op update(Ops tf) {
    return tf.withControlDependencies(writes).noOp();
  }
}
