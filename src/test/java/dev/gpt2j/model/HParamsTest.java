package dev.gpt2j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.op.Ops;

class HParamsTest {
  @Test
  void parameterCountsAreOpenAisModels() {
    // the published sizes of GPT-2's checkpoints (tied output head)
    assertEquals(124_439_808L, ModelSize.of("124M").hparams.parameterCount());
    assertEquals(354_823_168L, ModelSize.of("355M").hparams.parameterCount());
    assertEquals(774_030_080L, ModelSize.of("774M").hparams.parameterCount());
    assertEquals(1_557_611_200L, ModelSize.of("1558M").hparams.parameterCount());
  }

  @Test
  void theVariablesHoldExactlyThatManyParameters() {
    HParams hp = new HParams(101, 17, 24, 4, 3);
    try (Graph g = new Graph()) {
      assertEquals(hp.parameterCount(), ModelVariables.create(Ops.create(g), hp).parameterCount());
    }
  }

  @Test
  void inconsistentShapesAreRefused() {
    assertEquals(
        "n_embd (10) must be a multiple of n_head (4)",
        assertThrows(IllegalArgumentException.class, () -> new HParams(10, 8, 10, 4, 1))
            .getMessage());
    assertEquals(
        "n_layer must be positive, got 0",
        assertThrows(IllegalArgumentException.class, () -> new HParams(10, 8, 8, 4, 0))
            .getMessage());
  }
}
