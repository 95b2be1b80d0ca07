package dev.gpt2j.sampling;

import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Memory;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.StridedSliceAssign;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A KV cache in TF variables: keys and values [B, Hkv, capacity, D] of each layer in a variable of
 * their own, allocated once per generation for every position it will hold. A step writes its new
 * positions in place and attention reads the whole buffer (no copy), masking the positions not
 * written yet; so a step costs the attention term and nothing that grows with a copy of the cache.
 * Nothing crosses into Java.
 */
final class KvCache implements Memory {
  private final List<Variable<TFloat32>> buffers = new ArrayList<>();
  final Placeholder<TInt32> batchSize;
  final Placeholder<TInt32> capacity;

  /**
   * How many positions the cache holds before this run: where its new positions go. 0 unless fed: a
   * run over any number of positions always fills a freshly reset cache.
   */
  final Operand<TInt32> length;

  /** Empties the cache and sizes it for {@code batchSize} rows of {@code capacity} positions. */
  final Op reset;

  private final Shape shape;

  KvCache(Ops tf, HParams hp) {
    Ops s = tf.withSubScope("kv_cache");
    batchSize =
        s.withName("batch_size").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    capacity = s.withName("capacity").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    length = s.withName("length").placeholderWithDefault(s.constant(0), Shape.scalar());
    // zeros, not garbage: masked positions still meet a 0 weight in attention, and 0 * NaN = NaN
    Operand<TFloat32> empty =
        s.zeros(
            s.stack(
                List.of(batchSize, s.constant(hp.nKvHead()), capacity, s.constant(hp.headSize()))),
            TFloat32.class);
    shape = Shape.of(-1, hp.nKvHead(), -1, hp.headSize());
    List<Op> resets = new ArrayList<>();
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      for (String kind : List.of("k", "v")) {
        Variable<TFloat32> var =
            s.withSubScope("h" + layer).withName(kind).variable(Shape.unknown(), TFloat32.class);
        buffers.add(var);
        resets.add(s.assign(var, empty, Assign.validateShape(false)));
      }
    }
    reset = s.withControlDependencies(resets).noOp();
  }

  @Override
  public Operand<TInt32> length() {
    return length;
  }

  @Override
  public Memory.KeysValues extend(Ops tf, int layer, Memory.KeysValues fresh) {
    Operand<TInt32> valid = tf.math.add(length, fresh.valid());
    return new Memory.KeysValues(
        write(tf, buffers.get(2 * layer), fresh.k(), valid),
        write(tf, buffers.get(2 * layer + 1), fresh.v(), valid),
        valid);
  }

  // buffer[:, :, length:end, :] = fresh, in place, and the whole buffer after the write. A ref
  // variable, not a resource variable: TF puts a resource variable that sees a slice assignment in
  // "sparse" mode, where every later read copies the whole buffer.
  private Operand<TFloat32> write(
      Ops tf, Variable<TFloat32> buffer, Operand<TFloat32> fresh, Operand<TInt32> end) {
    Operand<TInt32> zero = tf.constant(0);
    long allButPositions = 0b1011;
    Operand<TFloat32> written =
        tf.stridedSliceAssign(
            buffer,
            tf.stack(List.of(zero, zero, length, zero)),
            tf.stack(List.of(zero, zero, end, zero)),
            tf.constant(new int[] {1, 1, 1, 1}),
            fresh,
            StridedSliceAssign.beginMask(allButPositions),
            StridedSliceAssign.endMask(allButPositions));
    return tf.ensureShape(written, shape); // ref variables cannot declare a partial shape
  }
}
