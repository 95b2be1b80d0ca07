package dev.gpt2j.sampling;

import dev.gpt2j.kernels.FusedBlocks;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Memory;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.PlaceholderWithDefault;
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
  private final List<Variable<TFloat32>> keys = new ArrayList<>(); // one buffer per layer
  private final List<Variable<TFloat32>> values = new ArrayList<>();
  private final Placeholder<TInt32> batchSize;
  private final Placeholder<TInt32> capacity;

  /** How many positions each row holds before this run [B]: where its new positions go. */
  final Placeholder<TInt32> length;

  /**
   * The cache row a pass's first row is (default 0): a pass of B rows writes and reads rows [first,
   * first + B) of the buffers, so a new row can be prefilled into a free slot while others wait.
   */
  final PlaceholderWithDefault<TInt32> first;

  private final Op move; // copies every layer's keys and values of row moveFrom into row moveTo
  private final Placeholder<TInt32> moveFrom;
  private final Placeholder<TInt32> moveTo;
  private final Op resize; // gives every buffer newCapacity positions: see resize(Session, int)
  private final Placeholder<TInt32> newCapacity;
  private final Op reset; // empties the cache, sized for batchSize rows of capacity positions

  private final Shape shape;
  private final int heads;
  private Operand<TInt32> writeAt; // where the pass being built writes, set by extend at layer 0
  private Operand<TInt32> readBegin; // and the rows extend's pass reads, [first, first + B)
  private Operand<TInt32> readSize;

  KvCache(Ops tf, HParams hp) {
    Ops s = tf.withSubScope("kv_cache");
    batchSize =
        s.withName("batch_size").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    capacity = s.withName("capacity").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    length = s.withName("length").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    first = s.withName("first").placeholderWithDefault(s.constant(0), Shape.scalar());
    moveFrom = s.withName("move_from").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    moveTo = s.withName("move_to").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    newCapacity =
        s.withName("new_capacity").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    // zeros, not garbage: masked positions still meet a 0 weight in attention, and 0 * NaN = NaN
    Operand<TFloat32> empty =
        s.zeros(
            s.stack(
                List.of(batchSize, s.constant(hp.nKvHead()), capacity, s.constant(hp.headSize()))),
            TFloat32.class);
    shape = Shape.of(-1, hp.nKvHead(), -1, hp.headSize());
    heads = hp.nKvHead();
    List<Op> resets = new ArrayList<>();
    List<Op> moves = new ArrayList<>();
    List<Op> resizes = new ArrayList<>();
    Operand<TInt32> from = s.expandDims(moveFrom, s.constant(0));
    Operand<TInt32> to = s.expandDims(moveTo, s.constant(0));
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      for (String kind : List.of("k", "v")) {
        Variable<TFloat32> var =
            s.withSubScope("h" + layer).withName(kind).variable(Shape.unknown(), TFloat32.class);
        (kind.equals("k") ? keys : values).add(var);
        resets.add(s.assign(var, empty, Assign.validateShape(false)));
        moves.add(s.scatterUpdate(var, to, s.gather(var, from, s.constant(0))));
        resizes.add(s.assign(var, resized(s, var), Assign.validateShape(false)));
      }
    }
    reset = s.withControlDependencies(resets).noOp();
    move = s.withControlDependencies(moves).noOp();
    resize = s.withControlDependencies(resizes).noOp();
  }

  /** Empties the cache and sizes it for {@code rows} rows of {@code capacity} positions each. */
  void reset(Session session, int rows, int capacity) {
    try (TInt32 b = TInt32.scalarOf(rows);
        TInt32 c = TInt32.scalarOf(capacity)) {
      session.runner().feed(batchSize, b).feed(this.capacity, c).addTarget(reset).run().close();
    }
  }

  /** Copies every layer's keys and values of row {@code from} into row {@code to}. */
  void move(Session session, int from, int to) {
    try (TInt32 f = TInt32.scalarOf(from);
        TInt32 t = TInt32.scalarOf(to)) {
      session.runner().feed(moveFrom, f).feed(moveTo, t).addTarget(move).run().close();
    }
  }

  /**
   * Gives every buffer {@code capacity} positions, keeping what they hold (cut, or padded with
   * zeros): attention reads every position of the buffer, so it should hold no more than needed.
   */
  void resize(Session session, int capacity) {
    try (TInt32 c = TInt32.scalarOf(capacity)) {
      session.runner().feed(newCapacity, c).addTarget(resize).run().close();
    }
  }

  // buffer [B, H, C, D] -> [B, H, newCapacity, D]: zeros after its C positions, or cut
  private Operand<TFloat32> resized(Ops tf, Variable<TFloat32> buffer) {
    Operand<TInt32> zero = tf.constant(0);
    Operand<TInt32> all = tf.constant(-1);
    Operand<TInt32> capacity = tf.gather(tf.shape(buffer), tf.constant(2), zero);
    Operand<TInt32> more = tf.math.maximum(tf.math.sub(newCapacity, capacity), zero);
    Operand<TInt32> paddings =
        tf.reshape(
            tf.stack(List.of(zero, zero, zero, zero, zero, more, zero, zero)),
            tf.constant(new int[] {4, 2}));
    Operand<TFloat32> padded = tf.pad(buffer, paddings, tf.constant(0f));
    return tf.slice(padded, tf.constant(new int[4]), tf.stack(List.of(all, all, newCapacity, all)));
  }

  @Override
  public Operand<TInt32> length() {
    return length;
  }

  @Override
  public Memory.KeysValues extend(Ops tf, int layer, Memory.KeysValues fresh) {
    if (layer == 0) { // every pass starts at layer 0, and writes the same positions in each layer
      Operand<TInt32> zero = tf.constant(0);
      Operand<TInt32> all = tf.constant(-1);
      Operand<TInt32> shape = tf.shape(fresh.k());
      Operand<TInt32> rows = tf.gather(shape, zero, zero);
      writeAt = positions(tf, rows, tf.gather(shape, tf.constant(2), zero));
      readBegin = tf.stack(List.of(first, zero, zero, zero));
      readSize = tf.stack(List.of(rows, all, all, all));
    }
    Operand<TInt32> valid = tf.math.add(length, fresh.valid());
    return new Memory.KeysValues(
        readRows(tf, write(tf, keys.get(layer), fresh.k())),
        readRows(tf, write(tf, values.get(layer), fresh.v())),
        valid);
  }

  /**
   * Every layer's buffers as they are, for a step whose op reads them and writes its new positions
   * into them itself ({@link FusedBlocks}).
   */
  FusedBlocks.CacheRows held() {
    return new FusedBlocks.CacheRows(keys, values, first, length);
  }

  // (first + b, h, length[b] + i) for every row b < rows, head h and new position i < t: [B, Hkv,
  // T, 3]
  private Operand<TInt32> positions(Ops tf, Operand<TInt32> rows, Operand<TInt32> t) {
    Operand<TInt32> rowsHeadsPositions = tf.stack(List.of(rows, tf.constant(heads), t));
    Operand<TInt32> one = tf.constant(1);
    Operand<TInt32> zero = tf.constant(0);
    Operand<TInt32> b =
        tf.reshape(
            tf.math.add(first, tf.range(zero, rows, one)), tf.constant(new int[] {-1, 1, 1}));
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

  // buffer[first + b, :, length[b]:length[b]+T, :] = fresh[b] for every row b, in place. A ref
  // variable, not a resource variable: TF puts a resource variable that sees an indexed assignment
  // in "sparse" mode, where every later read copies the whole buffer.
  private Operand<TFloat32> write(Ops tf, Variable<TFloat32> buffer, Operand<TFloat32> fresh) {
    return tf.scatterNdUpdate(buffer, writeAt, fresh);
  }

  // the pass's rows of a buffer, [B, Hkv, capacity, D]. Slicing whole rows off the front dimension
  // shares the buffer (TF's Slice does not copy an aligned dim-0 slice), so reading copies nothing.
  private Operand<TFloat32> readRows(Ops tf, Operand<TFloat32> buffer) {
    // ref variables cannot declare a partial shape
    return tf.ensureShape(tf.slice(buffer, readBegin, readSize), shape);
  }
}
