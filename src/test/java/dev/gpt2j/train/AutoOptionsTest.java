package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelSize;
import dev.gpt2j.train.graph.StepConfig;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * recompute=auto: on only when holding every block's activations would take over half the memory;
 * xla=auto: on unless recompute is.
 */
class AutoOptionsTest {
  private static final HParams M355 = ModelSize.of("355M").hparams;
  private static final Optional<SystemMemory.Limit> MACHINE =
      Optional.of(new SystemMemory.Limit(24L << 30, "a 24 GiB machine"));

  private static TrainConfig config(String batch, String block, String recompute) {
    return config(batch, block, recompute, "auto");
  }

  private static TrainConfig config(String batch, String block, String recompute, String xla) {
    return TrainConfig.load(
        null, Map.of("batch_size", batch, "block_size", block, "recompute", recompute, "xla", xla));
  }

  private static boolean recomputes(TrainConfig c, HParams hp, Optional<SystemMemory.Limit> limit) {
    return StepPlan.settle(c, hp, limit).recompute();
  }

  // 355M at block 1024 keeps 24 blocks of (34 B T C + 3 B H T^2) floats: 7.7 GiB of activations;
  // at block 128, XLA's buffers alone (four weight sets) take it past 12 GiB (measured 12.31 GiB,
  // docs/benchmarks.md, "The plan at small fine-tunes")
  @Test
  void fineTuning355MRecomputesAndASmallRunDoesNot() {
    assertTrue(recomputes(config("1", "1024", "auto"), M355, MACHINE));
    assertTrue(recomputes(config("1", "128", "auto"), M355, MACHINE));
    assertFalse(recomputes(config("1", "128", "auto"), ModelSize.of("124M").hparams, MACHINE));
    assertFalse(recomputes(config("4", "256", "auto"), ModelSize.of("124M").hparams, MACHINE));
  }

  @Test
  void theThresholdIsHalfTheMemoryAvailable() {
    long without = StepPlan.memory(step(config("1", "1024", "false")), M355).total();
    TrainConfig c = config("1", "1024", "auto");
    assertFalse(recomputes(c, M355, limit(2 * without)));
    assertTrue(recomputes(c, M355, limit(2 * without - 2)));
  }

  @Test
  void anExplicitChoiceIsKeptAndAnUnknownLimitMeansOff() {
    assertFalse(recomputes(config("1", "1024", "false"), M355, limit(1L << 30)));
    assertTrue(recomputes(config("1", "16", "true"), M355, MACHINE));
    assertFalse(recomputes(config("1", "1024", "auto"), M355, Optional.empty()));
    assertEquals(Toggle.TRUE, config("1", "1024", "TRUE").recompute());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> config("1", "8", "sometimes"));
    assertEquals("recompute must be auto, true or false, got 'sometimes'", e.getMessage());
  }

  @Test
  void xlaIsOnUnlessRecomputeIs() {
    StepConfig tight = StepPlan.settle(config("1", "1024", "auto"), M355, MACHINE);
    assertTrue(tight.recompute() && !tight.xla());
    StepConfig small =
        StepPlan.settle(config("4", "256", "auto"), ModelSize.of("124M").hparams, MACHINE);
    assertTrue(!small.recompute() && small.xla());
    StepConfig asked = StepPlan.settle(config("1", "1024", "true", "true"), M355, MACHINE);
    assertTrue(asked.recompute() && asked.xla(), "an explicit choice is kept");
  }

  private static StepConfig step(TrainConfig c) {
    return StepPlan.settle(c, M355, Optional.empty());
  }

  private static Optional<SystemMemory.Limit> limit(long bytes) {
    return Optional.of(new SystemMemory.Limit(bytes, "test"));
  }
}
