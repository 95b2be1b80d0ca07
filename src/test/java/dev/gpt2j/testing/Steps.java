package dev.gpt2j.testing;

import dev.gpt2j.data.Batches;
import dev.gpt2j.model.HParams;
import dev.gpt2j.train.StepPlan;
import dev.gpt2j.train.TrainConfig;
import dev.gpt2j.train.graph.StepConfig;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/** Training steps as a run settles them, with no memory limit (recompute=auto stays off). */
public final class Steps {
  private Steps() {}

  public static StepConfig of(HParams hp, TrainConfig c) {
    return StepPlan.settle(c, hp, Optional.empty());
  }

  /** {@code rows} x {@code cols} inputs and targets drawn uniformly from the vocabulary. */
  public static Batches.Batch randomBatch(int nVocab, int rows, int cols, long seed) {
    Random r = new Random(seed);
    int[][] x = new int[rows][cols];
    int[][] y = new int[rows][cols];
    for (int b = 0; b < rows; b++) {
      for (int t = 0; t < cols; t++) {
        x[b][t] = r.nextInt(nVocab);
        y[b][t] = r.nextInt(nVocab);
      }
    }
    return new Batches.Batch(x, y);
  }

  /** The default config with {@code overrides}, as on the command line. */
  public static StepConfig of(HParams hp, Map<String, String> overrides) {
    return of(hp, TrainConfig.load(null, overrides));
  }
}
