package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.data.Batches;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.train.graph.TrainStep;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TF's gradients of the training loss against central differences of the float64 reference. */
class GradientTest {
  static final HParams HP = new HParams(11, 6, 8, 2, 2);

  static TrainConfig config(int batch, int block, String... overrides) {
    Map<String, String> o =
        new java.util.HashMap<>(
            Map.of(
                "batch_size",
                String.valueOf(batch),
                "block_size",
                String.valueOf(block),
                "xla",
                "false",
                "warmup_iters",
                "0",
                "lr_decay_iters",
                "10"));
    for (String kv : overrides) {
      o.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
    }
    return TrainConfig.load(null, o);
  }

  // mean over the batch of -log p(y | x) in float64
  static double referenceLoss(Map<String, float[]> w, int[][] x, int[][] y) {
    return referenceLoss(HP, w, x, y);
  }

  static double referenceLoss(HParams hp, Map<String, float[]> w, int[][] x, int[][] y) {
    ReferenceGpt2 ref = new ReferenceGpt2(hp, w);
    double sum = 0;
    for (int b = 0; b < x.length; b++) {
      double[][] logits = ref.logits(x[b]);
      for (int t = 0; t < x[b].length; t++) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : logits[t]) {
          max = Math.max(max, v);
        }
        double z = 0;
        for (double v : logits[t]) {
          z += Math.exp(v - max);
        }
        sum -= logits[t][y[b][t]] - max - Math.log(z);
      }
    }
    return sum / (x.length * x[0].length);
  }

  @Test
  void everyParameterGradientMatchesCentralDifferences(@TempDir Path tmp) {
    assertGradientsMatchCentralDifferences(HP, tmp);
  }

  // 4 * 256 hidden floats per row = 4 KB: the trainer widens the MLP with zero units (paddedMlp)
  @Test
  void gradientsThroughThePaddedMlpMatchCentralDifferences(@TempDir Path tmp) {
    HParams wide = new HParams(11, 6, 256, 2, 1);
    try (TrainStep step = new TrainStep(wide, Steps.of(wide, config(2, 5)))) {
      Iterable<org.tensorflow.GraphOperation> ops = () -> step.session().graph().operations();
      assertTrue(
          java.util.stream.StreamSupport.stream(ops.spliterator(), false)
              .anyMatch(op -> op.type().equals("PadV2")),
          "the MLP of this shape is padded");
    }
    assertGradientsMatchCentralDifferences(wide, tmp);
  }

  // the padded MLP too (n_embd 256), and XLA on, as training runs it
  @Test
  void recomputedGradientsEqualTheStoredActivationsOnes(@TempDir Path tmp) {
    HParams hp = new HParams(97, 8, 256, 4, 3);
    TinyModels.writeRandom(tmp.resolve("m"), hp, 5);
    Random r = new Random(6);
    int[][] x = new int[2][8];
    int[][] y = new int[2][8];
    for (int b = 0; b < 2; b++) {
      for (int t = 0; t < 8; t++) {
        x[b][t] = r.nextInt(hp.nVocab());
        y[b][t] = r.nextInt(hp.nVocab());
      }
    }
    for (String xla : new String[] {"xla=false", "xla=true"}) {
      Map<String, float[]> stored = gradients(hp, tmp, config(2, 8, xla), x, y);
      Map<String, float[]> recomputed =
          gradients(hp, tmp, config(2, 8, xla, "recompute=true"), x, y);
      assertSameGradients(stored, recomputed, xla);
    }
  }

  // |a - b| / |a| in the 2-norm, over all gradients together (≤ 2e-6, some twenty float32
  // roundings: AMD Zen 4's kernels round differently from Intel's and land above 1e-6) and per
  // tensor (≤ 1e-5: a small sum of large terms, such as a layer norm bias's, shows float32's
  // rounding most; both ways add the same terms in other orders)
  private static void assertSameGradients(
      Map<String, float[]> stored, Map<String, float[]> recomputed, String what) {
    assertEquals(stored.keySet(), recomputed.keySet());
    double worst = 0;
    String worstAt = "";
    double allDiff = 0;
    double allNorm = 0;
    for (String name : stored.keySet()) {
      float[] a = stored.get(name);
      float[] b = recomputed.get(name);
      double diff = 0;
      double norm = 0;
      for (int i = 0; i < a.length; i++) {
        diff += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
        norm += (double) a[i] * a[i];
      }
      allDiff += diff;
      allNorm += norm;
      double rel = Math.sqrt(diff / norm);
      if (rel > worst) {
        worst = rel;
        worstAt = name;
      }
    }
    double all = Math.sqrt(allDiff / allNorm);
    System.out.printf(
        "recompute, %s: relative difference %.2e over all gradients, %.2e at worst (%s)%n",
        what, all, worst, worstAt);
    assertTrue(all <= 2e-6, what + ": relative difference over all gradients " + all);
    assertTrue(worst <= 1e-5, what + ": relative difference " + worst + " in " + worstAt);
  }

  private static Map<String, float[]> gradients(
      HParams hp, Path tmp, TrainConfig c, int[][] x, int[][] y) {
    try (TrainStep step = new TrainStep(hp, Steps.of(hp, c))) {
      step.restoreModel(dev.gpt2j.checkpoint.ModelDir.latestCheckpoint(tmp.resolve("m")));
      return step.gradients(new Batches.Batch(x, y));
    }
  }

  private static void assertGradientsMatchCentralDifferences(HParams hp, Path tmp) {
    Map<String, float[]> w = TinyModels.writeRandom(tmp.resolve("m"), hp, 17);
    Random r = new Random(4);
    int[][] x = new int[2][5];
    int[][] y = new int[2][5];
    for (int b = 0; b < 2; b++) {
      for (int t = 0; t < 5; t++) {
        x[b][t] = r.nextInt(hp.nVocab());
        y[b][t] = r.nextInt(hp.nVocab());
      }
    }
    Map<String, float[]> grads;
    try (TrainStep step = new TrainStep(hp, Steps.of(hp, config(2, 5)))) {
      step.restoreModel(dev.gpt2j.checkpoint.ModelDir.latestCheckpoint(tmp.resolve("m")));
      grads = step.gradients(new Batches.Batch(x, y));
    }
    double h = 1e-3;
    double worst = 0;
    String worstAt = "";
    for (Map.Entry<String, float[]> e : w.entrySet()) {
      float[] values = e.getValue();
      for (int probe = 0; probe < 6; probe++) {
        int i = r.nextInt(values.length);
        float saved = values[i];
        values[i] = (float) (saved + h);
        double up = referenceLoss(hp, w, x, y);
        values[i] = (float) (saved - h);
        double down = referenceLoss(hp, w, x, y);
        values[i] = saved;
        double numeric = (up - down) / ((double) (float) (saved + h) - (float) (saved - h));
        double analytic = grads.get(e.getKey())[i];
        double err = Math.abs(numeric - analytic) / Math.max(1e-2, Math.abs(numeric));
        if (err > worst) {
          worst = err;
          worstAt = e.getKey() + "[" + i + "]: tf " + analytic + " vs numeric " + numeric;
        }
      }
    }
    System.out.printf("gradients: worst relative error %.2e at %s%n", worst, worstAt);
    assertTrue(worst < 2e-3, "worst relative error " + worst + " at " + worstAt);
  }
}
