package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.checkpoint.CheckpointIndex;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.data.Batches;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.train.graph.TrainStep;
import dev.gpt2j.train.optim.Adafactor;
import dev.gpt2j.train.optim.AdamW;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** AdamW, clipping, accumulation and the schedule against hand-written references. */
class OptimizerTest {
  static final HParams HP = GradientTest.HP;
  @TempDir Path tmp;

  static int[][][] batch(long seed, int rows, int cols) {
    Random r = new Random(seed);
    int[][] x = new int[rows][cols];
    int[][] y = new int[rows][cols];
    for (int b = 0; b < rows; b++) {
      for (int t = 0; t < cols; t++) {
        x[b][t] = r.nextInt(HP.nVocab());
        y[b][t] = r.nextInt(HP.nVocab());
      }
    }
    return new int[][][] {x, y};
  }

  @Test
  void twoAdamWStepsWithClippingAndDecoupledDecayMatchTheReference() {
    Map<String, float[]> w0 = TinyModels.writeRandom(tmp.resolve("m"), HP, 3);
    double lr = 0.01;
    double b1 = 0.9;
    double b2 = 0.95;
    double wd = 0.1;
    double clip = 0.5; // small enough that clipping is active
    TrainConfig c =
        GradientTest.config(
            2, 5, "beta1=" + b1, "beta2=" + b2, "weight_decay=" + wd, "grad_clip=" + clip);
    int[][][] one = batch(1, 2, 5);
    int[][][] two = batch(2, 2, 5);
    Map<String, double[]> p = new HashMap<>();
    Map<String, double[]> m = new HashMap<>();
    Map<String, double[]> v = new HashMap<>();
    w0.forEach(
        (k, a) -> {
          double[] d = new double[a.length];
          for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
          }
          p.put(k, d);
          m.put(k, new double[a.length]);
          v.put(k, new double[a.length]);
        });
    Map<String, float[]> after;
    double[] norms = new double[2];
    try (TrainStep step = new TrainStep(HP, Steps.of(HP, c))) {
      step.restoreModel(ModelDir.latestCheckpoint(tmp.resolve("m")));
      int t = 0;
      for (int[][][] b : List.of(one, two)) {
        Map<String, float[]> g = step.gradients(batch(b), 0);
        TrainStep.Stats stats = step.step(List.of(batch(b)), lr, 0, false);
        t++;
        double sq = 0;
        for (float[] gi : g.values()) {
          for (float x : gi) {
            sq += (double) x * x;
          }
        }
        double norm = Math.sqrt(sq);
        norms[t - 1] = norm;
        assertEquals(norm, stats.gradNorm(), 1e-4 * norm, "gradient norm before clipping");
        double scale = Math.min(1, clip / (norm + 1e-6));
        for (String name : p.keySet()) {
          boolean decay = name.endsWith("/w") || name.endsWith("wte") || name.endsWith("wpe");
          double[] pp = p.get(name);
          double[] mm = m.get(name);
          double[] vv = v.get(name);
          float[] gg = g.get(name);
          for (int i = 0; i < pp.length; i++) {
            double gi = gg[i] * scale;
            mm[i] = b1 * mm[i] + (1 - b1) * gi;
            vv[i] = b2 * vv[i] + (1 - b2) * gi * gi;
            if (decay) {
              pp[i] *= 1 - lr * wd;
            }
            double mhat = mm[i] / (1 - Math.pow(b1, t));
            double denom = Math.sqrt(vv[i]) / Math.sqrt(1 - Math.pow(b2, t)) + AdamW.EPS;
            pp[i] -= lr * mhat / denom;
          }
        }
      }
      after = step.weights();
    }
    assertTrue(
        norms[0] > clip && norms[1] > clip, "clipping was active: " + norms[0] + ", " + norms[1]);
    double worst = 0;
    for (String name : p.keySet()) {
      for (int i = 0; i < p.get(name).length; i++) {
        worst = Math.max(worst, Math.abs(p.get(name)[i] - after.get(name)[i]));
      }
    }
    System.out.printf("adamw: max |tf - reference| after two steps = %.2e%n", worst);
    assertTrue(worst < 2e-5, "max difference " + worst);
  }

  // Hugging Face's Adafactor(relative_step=False, scale_parameter=False), written out in doubles
  @Test
  void twoAdafactorStepsWithDecayMatchTheReference() {
    TinyModels.writeRandom(tmp.resolve("m"), HP, 4);
    double lr = 0.01;
    double wd = 0.1;
    TrainConfig c =
        GradientTest.config(2, 5, "optimizer=adafactor", "weight_decay=" + wd, "grad_clip=0");
    double worst = 0;
    try (TrainStep step = new TrainStep(HP, Steps.of(HP, c))) {
      step.restoreModel(ModelDir.latestCheckpoint(tmp.resolve("m")));
      Map<String, double[]> p = new HashMap<>();
      Map<String, long[]> shapes = new HashMap<>();
      step.weights().forEach((k, a) -> p.put(k, toDouble(a)));
      CheckpointIndex.read(ModelDir.latestCheckpoint(tmp.resolve("m")))
          .entries()
          .values()
          .forEach(e -> shapes.put(e.name(), e.shape()));
      Map<String, double[][]> state = new HashMap<>();
      for (int t = 1; t <= 2; t++) {
        Batches.Batch b = batch(batch(10 + t, 2, 5));
        Map<String, float[]> g = step.gradients(b, 0);
        step.step(List.of(b), lr, 0, false);
        double beta2 = 1 - Math.pow(t, Adafactor.DECAY_RATE);
        for (String name : p.keySet()) {
          double[] u = adafactorDirection(shapes.get(name), g.get(name), beta2, state, name);
          boolean decay = name.endsWith("/w") || name.endsWith("wte") || name.endsWith("wpe");
          double[] pp = p.get(name);
          for (int i = 0; i < pp.length; i++) {
            pp[i] -= lr * u[i] + (decay ? lr * wd * pp[i] : 0);
          }
        }
      }
      Map<String, float[]> after = step.weights();
      for (String name : p.keySet()) {
        for (int i = 0; i < p.get(name).length; i++) {
          worst = Math.max(worst, Math.abs(p.get(name)[i] - after.get(name)[i]));
        }
      }
    }
    System.out.printf("adafactor: max |tf - reference| after two steps = %.2e%n", worst);
    assertTrue(worst < 2e-5, "max difference " + worst);
  }

  // the clipped update g / sqrt(v) for one tensor; state holds {vr, vc} or {v} between steps
  private static double[] adafactorDirection(
      long[] shape, float[] g, double beta2, Map<String, double[][]> state, String name) {
    int n = g.length;
    double[] u = new double[n];
    int dims = shape.length;
    boolean factored = dims >= 2 && shape[dims - 1] > 1 && shape[dims - 2] > 1;
    if (factored) {
      int cols = (int) shape[dims - 1];
      int rows = (int) shape[dims - 2];
      int lead = n / (rows * cols);
      double[][] s =
          state.computeIfAbsent(
              name, k -> new double[][] {new double[lead * rows], new double[lead * cols]});
      double[] vr = s[0];
      double[] vc = s[1];
      for (int l = 0; l < lead; l++) {
        double[] rowMean = new double[rows];
        double[] colMean = new double[cols];
        for (int r = 0; r < rows; r++) {
          for (int col = 0; col < cols; col++) {
            double sq = sq(g[(l * rows + r) * cols + col]);
            rowMean[r] += sq / cols;
            colMean[col] += sq / rows;
          }
        }
        double meanVr = 0;
        for (int r = 0; r < rows; r++) {
          vr[l * rows + r] = beta2 * vr[l * rows + r] + (1 - beta2) * rowMean[r];
          meanVr += vr[l * rows + r] / rows;
        }
        for (int col = 0; col < cols; col++) {
          vc[l * cols + col] = beta2 * vc[l * cols + col] + (1 - beta2) * colMean[col];
        }
        for (int r = 0; r < rows; r++) {
          for (int col = 0; col < cols; col++) {
            int i = (l * rows + r) * cols + col;
            double v = vr[l * rows + r] / meanVr * vc[l * cols + col];
            u[i] = g[i] / Math.sqrt(v);
          }
        }
      }
    } else {
      double[] v = state.computeIfAbsent(name, k -> new double[][] {new double[n]})[0];
      for (int i = 0; i < n; i++) {
        v[i] = beta2 * v[i] + (1 - beta2) * sq(g[i]);
        u[i] = g[i] / Math.sqrt(v[i]);
      }
    }
    double ms = 0;
    for (double x : u) {
      ms += x * x / n;
    }
    double scale = Math.max(1, Math.sqrt(ms) / Adafactor.CLIP_THRESHOLD);
    for (int i = 0; i < n; i++) {
      u[i] /= scale;
    }
    return u;
  }

  private static double sq(float g) {
    return (double) g * g + Adafactor.EPS;
  }

  private static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  @Test
  void accumulatingTwoMicroBatchesEqualsOneBatchOfTwiceTheSize() {
    TinyModels.writeRandom(tmp.resolve("m"), HP, 5);
    int[][][] big = batch(9, 4, 5);
    int[][][] first = {
      java.util.Arrays.copyOfRange(big[0], 0, 2), java.util.Arrays.copyOfRange(big[1], 0, 2)
    };
    int[][][] second = {
      java.util.Arrays.copyOfRange(big[0], 2, 4), java.util.Arrays.copyOfRange(big[1], 2, 4)
    };
    Map<String, float[]> once;
    Map<String, float[]> accumulated;
    TrainStep.Stats big1;
    TrainStep.Stats two;
    try (TrainStep step = new TrainStep(HP, Steps.of(HP, GradientTest.config(4, 5)))) {
      step.restoreModel(ModelDir.latestCheckpoint(tmp.resolve("m")));
      big1 = step.step(List.of(batch(big)), 1e-3, 0, false);
      once = step.weights();
    }
    try (TrainStep step =
        new TrainStep(
            HP, Steps.of(HP, GradientTest.config(2, 5, "gradient_accumulation_steps=2")))) {
      step.restoreModel(ModelDir.latestCheckpoint(tmp.resolve("m")));
      two = step.step(List.of(batch(first), batch(second)), 1e-3, 0, false);
      accumulated = step.weights();
    }
    assertEquals(big1.loss(), two.loss(), 1e-5 * big1.loss());
    // the norm is taken of the mean gradient: equal norms mean the accumulated gradient is the big
    // one's
    assertEquals(big1.gradNorm(), two.gradNorm(), 1e-5 * big1.gradNorm());
    double sum = 0;
    long n = 0;
    for (String name : once.keySet()) {
      for (int i = 0; i < once.get(name).length; i++) {
        sum += Math.abs(once.get(name)[i] - accumulated.get(name)[i]);
        n++;
      }
    }
    assertTrue(sum / n < 1e-6, "mean |weight difference| " + sum / n);
  }

  // gpt-2-simple's "only train transformer layers": the embeddings get no update and no state
  @Test
  void frozenEmbeddingsStayBitIdenticalWhileTheRestTrains() {
    TrainConfig c = GradientTest.config(2, 5, "train_embeddings=false", "weight_decay=0.1");
    try (TrainStep step = new TrainStep(HP, Steps.of(HP, c))) {
      step.initialize(1);
      Map<String, float[]> before = step.weights();
      for (int i = 0; i < 3; i++) {
        step.step(List.of(batch(batch(30 + i, 2, 5))), 1e-2, 0, false);
      }
      Map<String, float[]> after = step.weights();
      for (String name : before.keySet()) {
        boolean frozen = name.equals("model/wte") || name.equals("model/wpe");
        assertEquals(
            frozen,
            java.util.Arrays.equals(before.get(name), after.get(name)),
            name + " changed: " + !frozen);
      }
      assertEquals(
          before.keySet().size() - 2,
          step.gradients(batch(batch(40, 2, 5)), 0).size(),
          "gradients of the trained tensors only");
    }
  }

  @Test
  void aTinyModelOverfitsOneBatch() {
    TrainConfig c = GradientTest.config(2, 5, "grad_clip=0", "weight_decay=0");
    int[][][] b = batch(4, 2, 5);
    try (TrainStep step = new TrainStep(HP, Steps.of(HP, c))) {
      step.initialize(1);
      double loss = Double.NaN;
      for (int i = 0; i < 300 && !(loss < 0.1); i++) {
        loss = step.step(List.of(batch(b)), 0.02, 0, false).loss();
      }
      assertTrue(loss < 0.1, "loss " + loss);
    }
  }

  @Test
  void learningRateScheduleHasNanoGptsShape() {
    TrainConfig c =
        TrainConfig.load(
            null,
            Map.of(
                "learning_rate",
                "1e-3",
                "min_lr",
                "1e-4",
                "warmup_iters",
                "100",
                "lr_decay_iters",
                "2000"));
    assertEquals(1e-3 * 1 / 101, LrSchedule.at(0, c), 1e-15);
    assertEquals(1e-3 * 50 / 101, LrSchedule.at(49, c), 1e-15);
    assertEquals(1e-3, LrSchedule.at(100, c), 1e-15);
    assertEquals(1e-4 + 0.5 * (1e-3 - 1e-4), LrSchedule.at(1050, c), 1e-15); // cosine midpoint
    assertEquals(1e-4, LrSchedule.at(2000, c), 1e-15);
    assertEquals(1e-4, LrSchedule.at(5000, c), 1e-15);
  }

  @Test
  void xlaAndOpByOpStepsAgree() {
    TinyModels.writeRandom(tmp.resolve("m"), HP, 6);
    double[][] losses = new double[2][3];
    double[][] norms = new double[2][3];
    Map<String, float[]>[] results = new Map[2];
    int[] clusters = new int[2];
    for (int k = 0; k < 2; k++) {
      try (TrainStep step =
          new TrainStep(HP, Steps.of(HP, GradientTest.config(2, 5, "xla=" + (k == 0))))) {
        step.restoreModel(ModelDir.latestCheckpoint(tmp.resolve("m")));
        for (int i = 0; i < 3; i++) {
          TrainStep.Stats s = step.step(List.of(batch(batch(20 + i, 2, 5))), 1e-3, 0, i == 0);
          losses[k][i] = s.loss();
          norms[k][i] = s.gradNorm();
          if (i == 0) {
            clusters[k] = s.xlaClusters();
          }
        }
        results[k] = step.weights();
      }
    }
    assertTrue(clusters[0] >= 1, "xla=true ran " + clusters[0] + " compiled clusters");
    assertEquals(0, clusters[1], "xla=false ran no compiled cluster");
    for (int i = 0; i < 3; i++) {
      assertEquals(losses[1][i], losses[0][i], 1e-5 * losses[1][i], "loss at step " + i);
      assertEquals(norms[1][i], norms[0][i], 1e-4 * norms[1][i], "gradient norm at step " + i);
    }
    // Adam's first steps move each weight by about lr * sign(g): where g is ~0, float rounding
    // can flip a sign, so weights are compared on average rather than one by one.
    double sum = 0;
    long n = 0;
    for (String name : results[0].keySet()) {
      for (int i = 0; i < results[0].get(name).length; i++) {
        sum += Math.abs(results[0].get(name)[i] - results[1].get(name)[i]);
        n++;
      }
    }
    System.out.printf("xla vs op-by-op after 3 steps: mean |weight difference| = %.2e%n", sum / n);
    assertTrue(sum / n < 1e-6, "mean difference " + sum / n);
  }

  private static Batches.Batch batch(int[][][] xy) {
    return new Batches.Batch(xy[0], xy[1]);
  }
}
