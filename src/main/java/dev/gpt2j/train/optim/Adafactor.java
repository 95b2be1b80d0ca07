package dev.gpt2j.train.optim;

import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Adafactor (Shazeer and Stern 2018) as Hugging Face's transformers.optimization.Adafactor with
 * relative_step=False, scale_parameter=False, warmup_init=False and no first moment: the second
 * moment of a matrix is kept as its row and column means (factored), of a vector in full; the
 * update g / sqrt(v) is clipped to an RMS of at most {@link #CLIP_THRESHOLD}; the learning rate is
 * the schedule's. Its state is a few numbers per row and column where AdamW keeps two per weight.
 * Decoupled weight decay (p -= lr * wd * p) on the tensors marked for decay, as in that
 * implementation. Slots are named {@code <var>/Adafactor_vr}, {@code _vc} (factored) and {@code
 * _v}.
 */
public final class Adafactor implements Optimizer {
  /** Added to g^2 before it enters the moments. */
  public static final double EPS = 1e-30;

  /** The second-moment decay is 1 - t^DECAY_RATE at step t. */
  public static final double DECAY_RATE = -0.8;

  /** Updates are scaled down to this root mean square when above it. */
  public static final double CLIP_THRESHOLD = 1.0;

  private record Slots(Variable rows, Variable columns, Variable full) {
    boolean factored() {
      return full == null;
    }
  }

  private final List<Slots> slots = new ArrayList<>();
  private final Variable step;
  private final double weightDecay;

  Adafactor(Ops tf, List<Variable> params, double weightDecay) {
    this.weightDecay = weightDecay;
    Ops s = tf.withSubScope("adafactor");
    for (Variable p : params) {
      List<long[]> shapes = slotShapes(p.shape());
      slots.add(
          shapes.size() == 2
              ? new Slots(slot(s, p, "vr", shapes.get(0)), slot(s, p, "vc", shapes.get(1)), null)
              : new Slots(null, null, slot(s, p, "v", shapes.get(0))));
    }
    step = ModelVariables.create(s, "train/step", new ModelVariables.Init.Constant(0), false);
  }

  // a matrix's second moment as its row means and its column means, counting only the last two
  // axes (OpenAI's conv weights are [1, nx, nf]); anything else's in full
  private static List<long[]> slotShapes(long[] shape) {
    boolean factored =
        shape.length >= 2 && shape[shape.length - 1] > 1 && shape[shape.length - 2] > 1;
    return factored
        ? List.of(without(shape, shape.length - 1), without(shape, shape.length - 2))
        : List.of(shape);
  }

  /** The elements of state kept for a weight of this shape (the memory plan counts them). */
  static long stateElements(long[] shape) {
    return slotShapes(shape).stream()
        .mapToLong(s -> Arrays.stream(s).reduce(1, (a, b) -> a * b))
        .sum();
  }

  private static Variable slot(Ops s, Variable p, String name, long[] shape) {
    return ModelVariables.create(
        s, p.name() + "/Adafactor_" + name, new ModelVariables.Init.Constant(0), false, shape);
  }

  private static long[] without(long[] shape, int axis) {
    long[] out = new long[shape.length - 1];
    for (int i = 0, j = 0; i < shape.length; i++) {
      if (i != axis) {
        out[j++] = shape[i];
      }
    }
    return out;
  }

  @Override
  public List<Variable> state() {
    List<Variable> all = new ArrayList<>();
    for (Slots sl : slots) {
      all.addAll(Arrays.asList(sl.rows(), sl.columns(), sl.full()));
    }
    all.removeIf(v -> v == null);
    all.add(step);
    return all;
  }

  @Override
  public List<Op> update(
      Ops tf,
      List<Variable> params,
      List<Operand<TFloat32>> computed,
      List<Operand<TFloat32>> grads,
      Operand<TFloat32> lr) {
    Ops s = tf.withSubScope("adafactor");
    Operand<TFloat32> t = s.math.add(step.float32(), f(s, 1));
    Operand<TFloat32> beta2 = s.math.sub(f(s, 1), s.math.pow(t, f(s, DECAY_RATE)));
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      Variable p = params.get(i);
      Operand<TFloat32> g = grads.get(i);
      Ops w = s.withControlDependencies(List.of(computed.get(i)));
      Operand<TFloat32> sq = w.math.add(w.math.square(g), f(w, EPS));
      Slots sl = slots.get(i);
      Operand<TFloat32> u;
      if (sl.factored()) {
        Operand<TFloat32> vr = movingAverage(w, sl.rows(), mean(w, sq, -1, false), beta2, ops);
        Operand<TFloat32> vc = movingAverage(w, sl.columns(), mean(w, sq, -2, false), beta2, ops);
        // v ~ vr vc / mean(vr): each row's factor over its mean, times each column's
        Operand<TFloat32> rowFactor = w.math.rsqrt(w.math.div(vr, mean(w, vr, -1, true)));
        Operand<TFloat32> columnFactor = w.math.rsqrt(vc);
        u =
            w.math.mul(
                w.math.mul(g, w.expandDims(rowFactor, w.constant(-1))),
                w.expandDims(columnFactor, w.constant(-2)));
      } else {
        u = w.math.mul(g, w.math.rsqrt(movingAverage(w, sl.full(), sq, beta2, ops)));
      }
      Operand<TFloat32> rms = w.math.sqrt(w.math.mean(w.math.square(u), allAxes(w, u)));
      u = w.math.div(u, w.math.maximum(f(w, 1), w.math.div(rms, f(w, CLIP_THRESHOLD))));
      Operand<TFloat32> delta = w.math.mul(lr, u);
      if (p.decay() && weightDecay > 0) {
        delta = w.math.add(delta, w.math.mul(w.math.mul(lr, f(w, weightDecay)), p.float32()));
      }
      ops.add(w.assignSubVariableOp(p.handle(), delta));
    }
    ops.add(s.assignVariableOp(step.handle(), t));
    return ops;
  }

  // slot = beta2 slot + (1 - beta2) x, assigned; returns the new value
  private static Operand<TFloat32> movingAverage(
      Ops tf, Variable slot, Operand<TFloat32> x, Operand<TFloat32> beta2, List<Op> ops) {
    Operand<TFloat32> next =
        tf.math.add(
            tf.math.mul(beta2, slot.float32()), tf.math.mul(tf.math.sub(f(tf, 1), beta2), x));
    ops.add(tf.assignVariableOp(slot.handle(), next));
    return next;
  }

  private static Operand<TFloat32> mean(Ops tf, Operand<TFloat32> x, int axis, boolean keep) {
    return tf.math.mean(x, tf.constant(axis), Mean.keepDims(keep));
  }

  private static Operand<TInt32> allAxes(Ops tf, Operand<TFloat32> x) {
    return tf.range(tf.constant(0), tf.rank(x), tf.constant(1));
  }

  private static Operand<TFloat32> f(Ops tf, double v) {
    return tf.constant((float) v);
  }
}
