package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.data.Batches;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.train.graph.TrainStep;
import java.util.Map;
import java.util.Random;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.proto.DataType;

/**
 * dtype=bfloat16 against the float32 step (itself held to float64 finite differences in {@link
 * GradientTest}) on the same weights and batch: the loss within 1%, and each weight's gradient
 * pointing the same way (cosine similarity at least 0.999).
 */
class BFloat16TrainingTest {
  private static final HParams HP = new HParams(97, 16, 64, 4, 2);

  @Test
  void aBfloat16StepAgreesWithTheFloat32One() {
    Batches.Batch batch = batch(new Random(8), 4, 16);
    for (String xla : new String[] {"xla=false", "xla=true"}) {
      Result fp32 = run(GradientTest.config(4, 16, xla), batch);
      Result bf16 = run(GradientTest.config(4, 16, xla, "dtype=bfloat16"), batch);
      assertTrue(bf16.bf16MatMuls() > 0, xla + ": the bfloat16 graph multiplies in bfloat16");
      assertEquals(0, fp32.bf16MatMuls(), xla + ": the float32 graph does not");
      assertNotEquals(fp32.loss(), bf16.loss(), xla + ": the bfloat16 loss is its own");
      double lossRel = Math.abs(bf16.loss() - fp32.loss()) / fp32.loss();
      double worst = 1;
      String worstAt = "";
      for (String name : fp32.gradients().keySet()) {
        double cos = cosine(fp32.gradients().get(name), bf16.gradients().get(name));
        if (cos < worst) {
          worst = cos;
          worstAt = name;
        }
      }
      System.out.printf(
          "bfloat16, %s: loss %.5f vs %.5f (%.2e relative), lowest gradient cosine %.6f (%s)%n",
          xla, bf16.loss(), fp32.loss(), lossRel, worst, worstAt);
      assertTrue(lossRel <= 0.01, xla + ": loss differs by " + lossRel);
      assertTrue(worst >= 0.999, xla + ": gradient cosine " + worst + " at " + worstAt);
    }
  }

  private record Result(double loss, Map<String, float[]> gradients, long bf16MatMuls) {}

  // the weights from OpenAI's initialisers (the same seed gives the same weights in both graphs):
  // a network in the regime training sees, not one of large random weights with saturated
  // softmaxes, where any rounding is amplified
  private static Result run(TrainConfig c, Batches.Batch batch) {
    try (TrainStep step = new TrainStep(HP, Steps.of(HP, c))) {
      step.initialize(3);
      Iterable<GraphOperation> ops = () -> step.session().graph().operations();
      long bf16 =
          StreamSupport.stream(ops.spliterator(), false)
              .filter(op -> op.type().equals("MatMul"))
              .filter(op -> op.output(0).dataType() == DataType.DT_BFLOAT16)
              .count();
      return new Result(step.loss(batch), step.gradients(batch, 0), bf16);
    }
  }

  private static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  // text with a rule to learn (each token 7 above the last), so that the gradients carry a signal
  // rather than random targets' noise
  private static Batches.Batch batch(Random r, int rows, int block) {
    int[][] x = new int[rows][block];
    int[][] y = new int[rows][block];
    for (int b = 0; b < rows; b++) {
      int start = r.nextInt(HP.nVocab());
      for (int t = 0; t < block; t++) {
        x[b][t] = (start + 7 * t) % HP.nVocab();
        y[b][t] = (start + 7 * (t + 1)) % HP.nVocab();
      }
    }
    return new Batches.Batch(x, y);
  }
}
