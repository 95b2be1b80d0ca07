package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.data.Batches;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.train.graph.TrainStep;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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
    return referenceLoss(hp, w, x, y, 0);
  }

  // plus auxWeight times a mixture's load-balancing loss over the whole batch
  static double referenceLoss(
      HParams hp, Map<String, float[]> w, int[][] x, int[][] y, double auxWeight) {
    ReferenceGpt2 ref = new ReferenceGpt2(hp, w);
    ReferenceGpt2.Routing routing = hp.arch().moe() ? new ReferenceGpt2.Routing(hp) : null;
    double sum = 0;
    for (int b = 0; b < x.length; b++) {
      double[][] logits = ref.logits(x[b], routing);
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
    double aux = routing == null ? 0 : routing.loadBalancingLoss(hp.arch().moeTopK());
    return sum / (x.length * x[0].length) + auxWeight * aux;
  }

  @Test
  void everyParameterGradientMatchesCentralDifferences(@TempDir Path tmp) {
    assertGradientsMatchCentralDifferences(HP, tmp);
  }

  /** The family's blocks (issue 25) on HP's sizes; the mixture's load-balancing loss weighs 0.5. */
  static Stream<Arguments> family() {
    return Stream.of(
        Arguments.of("rmsnorm", Map.of("norm", "rmsnorm")),
        Arguments.of("swiglu", Map.of("mlp", "swiglu", "mlp_hidden", "12")),
        Arguments.of("rope", Map.of("position", "rope")),
        Arguments.of("multi-query", Map.of("n_kv_head", "1", "bias", "false")),
        Arguments.of("mixture", Map.of("moe_experts", "3", "moe_top_k", "2")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("family")
  void theFamilysGradientsMatchCentralDifferences(
      String name, Map<String, String> options, @TempDir Path tmp) {
    HParams hp =
        new HParams(
            HP.nVocab(),
            HP.nCtx(),
            HP.nEmbd(),
            HP.nHead(),
            HP.nLayer(),
            Architecture.fromText(options));
    assertGradientsMatchCentralDifferences(hp, tmp, "moe_aux_loss=0.5");
  }

  // a mixture's load-balancing loss, and dropout's masks drawn again when the block is rebuilt
  @Test
  void recomputedGradientsEqualTheStoredOnesForEveryBlockOfTheFamilyWithDropout(@TempDir Path tmp) {
    Map<String, String> all =
        Map.of(
            "norm",
            "rmsnorm",
            "mlp",
            "swiglu",
            "position",
            "rope",
            "n_kv_head",
            "1",
            "moe_experts",
            "3");
    HParams hp = new HParams(37, 8, 16, 2, 2, Architecture.fromText(all));
    TinyModels.writeRandom(tmp.resolve("m"), hp, 5);
    Batches.Batch batch = Steps.randomBatch(hp.nVocab(), 2, 8, 6);
    String[] dropout = {"dropout=0.3", "moe_aux_loss=0.5"};
    Map<String, float[]> stored = gradients(hp, tmp, config(2, 8, dropout), batch);
    Map<String, float[]> recomputed =
        gradients(hp, tmp, config(2, 8, dropout[0], dropout[1], "recompute=true"), batch);
    assertSameGradients(stored, recomputed, "family, dropout 0.3");
    Map<String, float[]> none = gradients(hp, tmp, config(2, 8, dropout[1]), batch);
    assertFalse(
        Arrays.equals(stored.get("model/h0/mlp/c_fc/w"), none.get("model/h0/mlp/c_fc/w")),
        "dropout changed the gradients");
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
    Batches.Batch batch = Steps.randomBatch(hp.nVocab(), 2, 8, 6);
    for (String xla : new String[] {"xla=false", "xla=true"}) {
      Map<String, float[]> stored = gradients(hp, tmp, config(2, 8, xla), batch);
      Map<String, float[]> recomputed =
          gradients(hp, tmp, config(2, 8, xla, "recompute=true"), batch);
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
      HParams hp, Path tmp, TrainConfig c, Batches.Batch batch) {
    try (TrainStep step = new TrainStep(hp, Steps.of(hp, c))) {
      step.restoreModel(dev.gpt2j.checkpoint.ModelDir.latestCheckpoint(tmp.resolve("m")));
      return step.gradients(batch, 42);
    }
  }

  private static void assertGradientsMatchCentralDifferences(
      HParams hp, Path tmp, String... overrides) {
    double auxWeight = TrainConfig.load(null, Map.of()).moeAuxLoss();
    for (String o : overrides) {
      auxWeight = o.startsWith("moe_aux_loss=") ? Double.parseDouble(o.substring(13)) : auxWeight;
    }
    Map<String, float[]> w = TinyModels.writeRandom(tmp.resolve("m"), hp, 17);
    Batches.Batch batch = Steps.randomBatch(hp.nVocab(), 2, 5, 4);
    Map<String, float[]> grads;
    try (TrainStep step = new TrainStep(hp, Steps.of(hp, config(2, 5, overrides)))) {
      step.restoreModel(dev.gpt2j.checkpoint.ModelDir.latestCheckpoint(tmp.resolve("m")));
      grads = step.gradients(batch, 0);
    }
    Random r = new Random(4); // which weights to probe
    double h = 1e-3;
    double worst = 0;
    String worstAt = "";
    for (Map.Entry<String, float[]> e : w.entrySet()) {
      float[] values = e.getValue();
      for (int probe = 0; probe < 6; probe++) {
        int i = r.nextInt(values.length);
        float saved = values[i];
        values[i] = (float) (saved + h);
        double up = referenceLoss(hp, w, batch.x(), batch.y(), auxWeight);
        values[i] = (float) (saved - h);
        double down = referenceLoss(hp, w, batch.x(), batch.y(), auxWeight);
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
