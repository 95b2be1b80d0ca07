package dev.gpt2j.train.optim;

import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * A training optimiser as graph ops: the state it saves beside the model, and the assignments of
 * one step. Each weight's assignments depend only on its own gradient, so that without global-norm
 * clipping a weight is updated as soon as its gradient exists and the gradients are never all held
 * at once.
 */
public interface Optimizer {
  /** The optimiser's variables: its slots and the step count. */
  List<Variable> state();

  /**
   * The assignments of one step: {@code grads} (clipped, accumulated) are applied to {@code
   * params}; {@code computed} are the gradients computed on this batch, which the weights' decay
   * waits for (by then the step's reads of the weight are over and the decay is done in place).
   */
  List<Op> update(
      Ops tf,
      List<Variable> params,
      List<Operand<TFloat32>> computed,
      List<Operand<TFloat32>> grads,
      Operand<TFloat32> lr);

  /**
   * Ops that set every state variable to {@code zero}, one per variable; {@code zero} must be fed
   * (see {@link ModelVariables#fill}).
   */
  default List<Op> reset(Ops tf, Operand<TFloat32> zero) {
    return state().stream().map(v -> ModelVariables.fill(tf, v, zero)).toList();
  }
}
