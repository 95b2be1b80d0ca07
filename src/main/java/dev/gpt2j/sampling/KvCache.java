package dev.gpt2j.sampling;

import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Memory;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Stack;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A KV cache in TF variables: keys and values [B, Hkv, capacity, D] of each layer in a variable of
 * their own, allocated once per generation for every position it will hold. Each row holds its own
 * number of positions ({@link #length}, one per row), so rows with prompts of different lengths
 * decode side by side. A step writes each row's new positions in place after its own and attention
 * reads the whole buffer (no copy), masking each row's positions not written yet; so a step costs
 * the attention term and nothing that grows with a copy of the cache. Nothing crosses into Java.
 */
final class KvCache implements Memory {
  private final List<Variable<TFloat32>> buffers = new ArrayList<>();
  final Placeholder<TInt32> batchSize;
  final Placeholder<TInt32> capacity;

  /** How many positions each row holds before this run [B]: where its new positions go. */
  final Placeholder<TInt32> length;

  /** Empties the cache and sizes it for {@code batchSize} rows of {@code capacity} positions. */
  final Op reset;

  private final Shape shape;
  private final int heads;
  private Operand<TInt32> writeAt; // where the pass being built writes: see extend

  KvCache(Ops tf, HParams hp) {
    Ops s = tf.withSubScope("kv_cache");
    batchSize =
        s.withName("batch_size").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    capacity = s.withName("capacity").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    length = s.withName("length").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    // zeros, not garbage: masked positions still meet a 0 weight in attention, and 0 * NaN = NaN
    Operand<TFloat32> empty =
        s.zeros(
            s.stack(
                List.of(batchSize, s.constant(hp.nKvHead()), capacity, s.constant(hp.headSize()))),
            TFloat32.class);
    shape = Shape.of(-1, hp.nKvHead(), -1, hp.headSize());
    heads = hp.nKvHead();
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
    if (layer == 0) { // every pass starts at layer 0, and writes the same positions in each layer
      writeAt = positions(tf, fresh.k());
    }
    Operand<TInt32> valid = tf.math.add(length, fresh.valid());
    return new Memory.KeysValues(
        write(tf, buffers.get(2 * layer), fresh.k()),
        write(tf, buffers.get(2 * layer + 1), fresh.v()),
        valid);
  }

  // (b, h, length[b] + i) for every row b, head h and new position i of fresh [B, Hkv, T, D]:
  // [B, Hkv, T, 3]
  private Operand<TInt32> positions(Ops tf, Operand<TFloat32> fresh) {
    Operand<TInt32> freshShape = tf.shape(fresh);
    Operand<TInt32> rowsHeadsPositions = tf.stridedSlice(freshShape, Indices.sliceTo(3));
    Operand<TInt32> one = tf.constant(1);
    Operand<TInt32> zero = tf.constant(0);
    Operand<TInt32> rows = tf.gather(freshShape, zero, zero);
    Operand<TInt32> t = tf.gather(freshShape, tf.constant(2), zero);
    Operand<TInt32> b = tf.reshape(tf.range(zero, rows, one), tf.constant(new int[] {-1, 1, 1}));
    Operand<TInt32> h =
        tf.reshape(tf.range(zero, tf.constant(heads), one), tf.constant(new int[] {1, -1, 1}));
    Operand<TInt32> p =
        tf.expandDims(tf.math.add(tf.expandDims(length, one), tf.range(zero, t, one)), one);
    return tf.stack(
        List.of(
            tf.broadcastTo(b, rowsHeadsPositions),
            tf.broadcastTo(h, rowsHeadsPositions),
            tf.broadcastTo(p, rowsHeadsPositions)),
        Stack.axis(-1L));
  }

  // buffer[b, :, length[b]:length[b]+T, :] = fresh[b] for every row b, in place, and the whole
  // buffer after the write. A ref variable, not a resource variable: TF puts a resource variable
  // that sees an indexed assignment in "sparse" mode, where every later read copies the whole
  // buffer.
  private Operand<TFloat32> write(Ops tf, Variable<TFloat32> buffer, Operand<TFloat32> fresh) {
    Operand<TFloat32> written = tf.scatterNdUpdate(buffer, writeAt, fresh);
    return tf.ensureShape(written, shape); // ref variables cannot declare a partial shape
  }
}
