package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelSize;
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
    return TrainConfig.load(
        null, Map.of("batch_size", batch, "block_size", block, "recompute", recompute));
  }

  private static String settled(TrainConfig c, HParams hp, Optional<SystemMemory.Limit> limit) {
    return Trainer.settleAuto(c, hp, limit).recompute();
  }

  // 355M at block 1024 keeps 24 blocks of (34 B T C + 3 B H T^2) floats: 7.7 GiB of activations
  @Test
  void fineTuning355MAtFullContextRecomputesAndASmallRunDoesNot() {
    assertEquals("true", settled(config("1", "1024", "auto"), M355, MACHINE));
    assertEquals("false", settled(config("1", "128", "auto"), M355, MACHINE));
    assertEquals(
        "false", settled(config("4", "256", "auto"), ModelSize.of("124M").hparams, MACHINE));
  }

  @Test
  void theThresholdIsHalfTheMemoryAvailable() {
    TrainConfig c = config("1", "1024", "auto");
    long without = Trainer.memoryPlan(c.with("recompute", "false"), M355).total();
    assertEquals("false", settled(c, M355, limit(2 * without)));
    assertEquals("true", settled(c, M355, limit(2 * without - 2)));
  }

  @Test
  void anExplicitChoiceIsKeptAndAnUnknownLimitMeansOff() {
    assertEquals("false", settled(config("1", "1024", "false"), M355, limit(1L << 30)));
    assertEquals("true", settled(config("1", "16", "true"), M355, MACHINE));
    assertEquals("false", settled(config("1", "1024", "auto"), M355, Optional.empty()));
    assertTrue(config("1", "1024", "TRUE").recomputes());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> config("1", "8", "sometimes"));
    assertEquals("recompute must be auto, true or false, got 'sometimes'", e.getMessage());
  }

  @Test
  void xlaIsOnUnlessRecomputeIs() {
    TrainConfig tight = Trainer.settleAuto(config("1", "1024", "auto"), M355, MACHINE);
    assertEquals("false", tight.xla());
    assertTrue(!tight.compilesWithXla());
    TrainConfig small =
        Trainer.settleAuto(config("4", "256", "auto"), ModelSize.of("124M").hparams, MACHINE);
    assertEquals("true", small.xla());
    TrainConfig asked =
        Trainer.settleAuto(config("1", "1024", "true").with("xla", "true"), M355, MACHINE);
    assertTrue(asked.recomputes() && asked.compilesWithXla(), "an explicit choice is kept");
  }

  private static Optional<SystemMemory.Limit> limit(long bytes) {
    return Optional.of(new SystemMemory.Limit(bytes, "test"));
  }
}
