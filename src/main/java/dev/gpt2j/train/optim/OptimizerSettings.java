package dev.gpt2j.train.optim;

import dev.gpt2j.model.ModelVariables.Variable;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.op.Ops;

/**
 * Which optimiser a step uses, and its settings: all that building one needs (as nanoGPT's
 * configure_optimizers receives only its own arguments).
 */
public record OptimizerSettings(Kind kind, double beta1, double beta2, double weightDecay) {
  /** The optimisers there are, by the name a config gives them. */
  public enum Kind {
    /** Two moments per weight, as nanoGPT. */
    ADAMW,
    /** Factored second moments, no first moment: almost no state. */
    ADAFACTOR;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The elements of state this optimiser keeps for a weight of {@code shape}. */
    public long stateElements(long[] shape) {
      return switch (this) {
        case ADAMW -> 2 * Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        case ADAFACTOR -> Adafactor.stateElements(shape);
      };
    }
  }

  /** The optimiser, with state for {@code params}. */
  public Optimizer create(Ops tf, List<Variable> params) {
    return switch (kind) {
      case ADAMW -> new AdamW(tf, params, beta1, beta2, weightDecay);
      case ADAFACTOR -> new Adafactor(tf, params, weightDecay);
    };
  }
}
