package dev.gpt2j.train;

import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.train.graph.StepConfig;
import dev.gpt2j.train.optim.OptimizerSettings;
import java.util.Optional;

/** A run's step settled from its config and the memory plan: pure functions, nothing is built. */
public final class StepPlan {
  private StepPlan() {}

  /**
   * The step {@code c} asks for on a model of shape {@code hp}, every {@code auto} resolved:
   * recompute=auto becomes true when holding every block's activations would take the plan past
   * half of {@code available} (small runs keep their speed, and big ones leave the machine room for
   * its page cache and other work; with no known limit it stays off); then xla=auto becomes true
   * unless recompute is on (XLA's clusters keep weight-sized buffers of their own).
   */
  public static StepConfig settle(
      TrainConfig c, HParams hp, Optional<SystemMemory.Limit> available) {
    boolean recompute =
        c.recompute()
            .settled(
                available.isPresent()
                    && memory(step(c, false, c.xla().settled(true)), hp).total()
                        > available.get().bytes() / 2);
    return step(c, recompute, c.xla().settled(!recompute));
  }

  private static StepConfig step(TrainConfig c, boolean recompute, boolean xla) {
    return new StepConfig(
        c.batchSize(),
        c.blockSize(),
        c.gradientAccumulationSteps(),
        c.gradClip(),
        recompute,
        xla,
        c.dtype(),
        c.trainEmbeddings(),
        c.optimizerSettings(),
        c.dropout(),
        c.moeAuxLoss(),
        c.cluster());
  }

  /** What a step {@code s} on a model of shape {@code hp} will hold in memory. */
  public static MemoryPlan memory(StepConfig s, HParams hp) {
    return MemoryPlan.training(
        hp,
        new MemoryPlan.Training(
            s.batchSize(),
            s.blockSize(),
            s.accumulationSteps(),
            s.recompute(),
            s.xla(),
            s.optimizer().kind() == OptimizerSettings.Kind.ADAFACTOR,
            ModelVariables.describe(hp).stream()
                .filter(v -> s.trainEmbeddings() || !v.embedding())
                .mapToLong(v -> s.optimizer().kind().stateElements(v.shape()))
                .sum(),
            s.gradClip() > 0,
            s.trainEmbeddings(),
            s.dtype() == DType.BFLOAT16));
  }
}
