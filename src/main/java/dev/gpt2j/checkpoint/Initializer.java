package dev.gpt2j.checkpoint;

import dev.gpt2j.model.ModelVariables;
import java.util.List;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt64;

/**
 * OpenAI's initialisers for every weight of a model, reproducible from a seed fed when they run:
 * where a model's weights come from when no checkpoint is restored.
 */
public final class Initializer {
  private final Placeholder<TInt64> seed;
  private final List<Op> assignments;

  /** Adds the initialisers of {@code model}'s variables to {@code tf}'s graph. */
  public Initializer(Ops tf, ModelVariables model) {
    seed = tf.withName("init_seed").placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
    assignments = model.initializers(seed);
  }

  /**
   * Initialises every weight from {@code seed}, one variable per graph run: all in one run would
   * hold every initialiser's output at once.
   */
  public void run(Session session, long seed) {
    try (TInt64 s = TInt64.scalarOf(seed)) {
      for (Op init : assignments) {
        session.runner().feed(this.seed, s).addTarget(init).run().close();
      }
    }
  }
}
