package dev.gpt2j.train.graph;

import dev.gpt2j.model.DType;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.model.Product;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * One batch's forward and backward pass: the mean loss and d loss / d each trained weight (the
 * output layer's by hand in {@link HeadLoss}, the rest from TF's C++ gradient registry). A single
 * process builds one over its whole batch; a cluster builds one per task ({@link DataParallel}).
 *
 * @param loss the mean loss over the batch's positions
 * @param aux a mixture of experts' load-balancing loss (mean over blocks), else null; the gradients
 *     are those of loss + moe_aux_loss * aux
 * @param gradients d loss / d each trained weight, in the order asked for
 */
record Replica(Operand<TFloat32> loss, Operand<TFloat32> aux, List<Operand<TFloat32>> gradients) {
  /** The pass over tokens {@code x} with targets {@code y}, differentiated by {@code trained}. */
  static Replica build(
      Graph graph,
      Ops tf,
      HParams hp,
      StepConfig c,
      ModelVariables model,
      List<Variable> trained,
      Operand<TInt32> x,
      Operand<TInt32> y,
      Gpt2.Dropout dropout) {
    boolean bf16 = c.dtype() == DType.BFLOAT16;
    Backward net =
        new Backward(
            graph,
            tf,
            hp,
            x,
            TrainingWeights.paddedMlp(tf, hp, model.params()),
            c.recompute(),
            bf16 ? Product.BFLOAT16_MATMUL : Product.MATMUL,
            dropout);
    HeadLoss head =
        HeadLoss.of(
            tf.withSubScope("head"), net.h, model.variable(ModelVariables.WTE).float32(), y, bf16);
    return new Replica(
        head.loss(),
        net.aux,
        withHeadsShare(tf, net.gradients(head.dH(), c.moeAuxLoss(), trained), head, trained));
  }

  // the output layer's own share of wte's gradient, added to the embedding's share
  private static List<Operand<TFloat32>> withHeadsShare(
      Ops tf, List<Operand<TFloat32>> grads, HeadLoss head, List<Variable> params) {
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (int i = 0; i < grads.size(); i++) {
      boolean wte = params.get(i).name().equals(ModelVariables.WTE);
      out.add(wte ? tf.math.add(grads.get(i), head.dWte()) : grads.get(i));
    }
    return out;
  }
}
