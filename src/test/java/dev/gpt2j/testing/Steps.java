package dev.gpt2j.testing;

import dev.gpt2j.model.HParams;
import dev.gpt2j.train.StepPlan;
import dev.gpt2j.train.TrainConfig;
import dev.gpt2j.train.graph.StepConfig;
import java.util.Map;
import java.util.Optional;

/** Training steps as a run settles them, with no memory limit (recompute=auto stays off). */
public final class Steps {
  private Steps() {}

  public static StepConfig of(HParams hp, TrainConfig c) {
    return StepPlan.settle(c, hp, Optional.empty());
  }

  /** The default config with {@code overrides}, as on the command line. */
  public static StepConfig of(HParams hp, Map<String, String> overrides) {
    return of(hp, TrainConfig.load(null, overrides));
  }
}
