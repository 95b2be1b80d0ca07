package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.data.Batches;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.train.graph.TrainStep;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dropout: drawn from the seed it is given, repeated by the same seed, never in evaluation. */
class DropoutTest {
  static final HParams HP = new HParams(29, 8, 16, 2, 2);

  @Test
  void theSameSeedRepeatsBitForBitAnotherDiffersAndEvaluationNeverDrops(@TempDir Path tmp) {
    TinyModels.writeRandom(tmp.resolve("m"), HP, 3);
    Batches.Batch batch = Steps.randomBatch(HP.nVocab(), 2, 8, 9);
    try (TrainStep dropping = step(tmp, "0.5");
        TrainStep plain = step(tmp, "0.0")) {
      Map<String, float[]> first = dropping.gradients(batch, 1);
      Map<String, float[]> again = dropping.gradients(batch, 1);
      Map<String, float[]> other = dropping.gradients(batch, 2);
      String w = "model/h1/mlp/c_fc/w";
      assertArrayEquals(first.get(w), again.get(w), "the same seed, the same masks");
      assertFalse(Arrays.equals(first.get(w), other.get(w)), "another seed, other masks");
      assertFalse(Arrays.equals(first.get(w), plain.gradients(batch, 1).get(w)), "dropout drops");
      assertEquals(plain.loss(batch), dropping.loss(batch), "evaluation never drops");
      assertTrue(randomOps(dropping) > 0);
      assertEquals(0, randomOps(plain), "dropout=0 builds no dropout at all");
    }
  }

  private static TrainStep step(Path tmp, String dropout) {
    TrainConfig c =
        TrainConfig.load(
            null, Map.of("batch_size", "2", "block_size", "8", "xla", "false", "dropout", dropout));
    TrainStep step = new TrainStep(HP, Steps.of(HP, c));
    step.restoreModel(ModelDir.latestCheckpoint(tmp.resolve("m")));
    return step;
  }

  private static long randomOps(TrainStep step) {
    Iterable<org.tensorflow.GraphOperation> ops = () -> step.graph().operations();
    return StreamSupport.stream(ops.spliterator(), false)
        .filter(op -> op.type().startsWith("StatelessRandomUniform"))
        .count();
  }
}
