package dev.gpt2j.train.optim;

import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.train.ResourceApplyAdam;
import org.tensorflow.types.TFloat32;

/**
 * AdamW as PyTorch's torch.optim.AdamW (nanoGPT's optimiser): decoupled weight decay p *= 1 - lr *
 * wd on the tensors marked for decay, then the bias-corrected Adam step p -= lr / (1 - b1^t) * m /
 * (sqrt(v) / sqrt(1 - b2^t) + eps). Slots are named as TF1's AdamOptimizer names them ({@code
 * <var>/Adam}, {@code <var>/Adam_1}).
 */
public final class AdamW implements Optimizer {
  public static final double EPS = 1e-8;

  private final List<Variable> first = new ArrayList<>();
  private final List<Variable> second = new ArrayList<>();
  private final Variable step;
  private final double beta1;
  private final double beta2;
  private final double weightDecay;

  AdamW(Ops tf, List<Variable> params, double beta1, double beta2, double weightDecay) {
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.weightDecay = weightDecay;
    Ops s = tf.withSubScope("adam");
    for (Variable p : params) {
      first.add(
          ModelVariables.create(
              s, p.name() + "/Adam", new ModelVariables.Init.Constant(0), false, p.shape()));
      second.add(
          ModelVariables.create(
              s, p.name() + "/Adam_1", new ModelVariables.Init.Constant(0), false, p.shape()));
    }
    step = ModelVariables.create(s, "train/step", new ModelVariables.Init.Constant(0), false);
  }

  /** Both moment slots of every parameter and the step count. */
  @Override
  public List<Variable> state() {
    List<Variable> all = new ArrayList<>(first);
    all.addAll(second);
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
    Ops s = tf.withSubScope("adamw");
    Operand<TFloat32> t = s.math.add(step.float32(), f(s, 1));
    Operand<TFloat32> bc2 = s.math.sub(f(s, 1), s.math.pow(f(s, beta2), t));
    Operand<TFloat32> sqrtBc2 = s.math.sqrt(bc2);
    Operand<TFloat32> decayRate = s.math.mul(lr, f(s, weightDecay));
    // TF's fused Adam kernel updates m, v and the weight in place, with no temporaries the size of
    // a weight; kept out of XLA's clusters, which would return new buffers for all three
    // (docs/benchmarks.md, "memory of fine-tuning"). Its step is lr sqrt(1 - b2^t) / (1 - b1^t) m /
    // (sqrt(v) + eps'); PyTorch's
    // epsilon sits beside sqrt(v) / sqrt(1 - b2^t), so eps' = eps sqrt(1 - b2^t) gives its update.
    Operand<TFloat32> beta1Power = s.math.pow(f(s, beta1), t);
    Operand<TFloat32> beta2Power = s.math.pow(f(s, beta2), t);
    Operand<TFloat32> epsilon = s.math.mul(f(s, EPS), sqrtBc2);
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < params.size(); i++) {
      Variable p = params.get(i);
      // decoupled weight decay first, on the weight as it was (PyTorch's AdamW)
      Ops adam = s;
      if (p.decay()) {
        // held back until the weight's gradient exists (see Optimizer.update)
        Ops late = s.withControlDependencies(List.of(computed.get(i)));
        Op decay = late.assignSubVariableOp(p.handle(), late.math.mul(p.float32(), decayRate));
        ops.add(decay);
        adam = s.withControlDependencies(List.of(decay));
      }
      ops.add(
          new ResourceApplyAdam(
              adam.scope()
                  .opBuilder("ResourceApplyAdam", "ResourceApplyAdam")
                  .addInput(p.handle().asOutput())
                  .addInput(first.get(i).handle().asOutput())
                  .addInput(second.get(i).handle().asOutput())
                  .addInput(beta1Power.asOutput())
                  .addInput(beta2Power.asOutput())
                  .addInput(lr.asOutput())
                  .addInput(f(s, beta1).asOutput())
                  .addInput(f(s, beta2).asOutput())
                  .addInput(epsilon.asOutput())
                  .addInput(grads.get(i).asOutput())
                  .setAttr("_XlaCompile", false)
                  .build()));
    }
    ops.add(s.assignVariableOp(step.handle(), t));
    return ops;
  }

  private static Operand<TFloat32> f(Ops tf, double v) {
    return tf.constant((float) v);
  }
}
