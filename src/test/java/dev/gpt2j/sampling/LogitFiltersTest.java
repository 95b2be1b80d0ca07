package dev.gpt2j.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** The filters against brute-force Java versions of openai/gpt-2's top_k_logits / top_p_logits. */
class LogitFiltersTest {
  private static final float MASKED = -1e10f;

  private static float[][] run(
      float[][] logits, BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> f) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> out = f.apply(tf, tf.constant(logits));
      try (Result r = s.runner().fetch(out).run()) {
        float[][] y = new float[logits.length][logits[0].length];
        for (int b = 0; b < y.length; b++) {
          ((TFloat32) r.get(0)).get(b).copyTo(DataBuffers.of(y[b], false, false));
        }
        return y;
      }
    }
  }

  // keep x >= the k-th largest value; k = 0 keeps everything
  private static float[] bruteTopK(float[] x, int k) {
    if (k == 0) {
      return x.clone();
    }
    float[] sorted = x.clone();
    Arrays.sort(sorted);
    float kth = sorted[sorted.length - Math.min(k, x.length)];
    float[] y = x.clone();
    for (int i = 0; i < y.length; i++) {
      if (y[i] < kth) {
        y[i] = MASKED;
      }
    }
    return y;
  }

  // openai top_p_logits: count of sorted tokens with inclusive cumulative prob <= p, at least one
  private static float[] bruteTopP(float[] x, double p) {
    double[] sorted = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      sorted[i] = x[i];
    }
    Arrays.sort(sorted);
    double max = sorted[sorted.length - 1];
    double sum = 0;
    for (double v : sorted) {
      sum += Math.exp(v - max);
    }
    double cumulative = 0;
    int kept = 0;
    for (int i = sorted.length - 1; i >= 0; i--) {
      cumulative += Math.exp(sorted[i] - max) / sum;
      if (cumulative <= p) {
        kept++;
      }
    }
    double threshold = sorted[sorted.length - Math.max(kept, 1)];
    float[] y = x.clone();
    for (int i = 0; i < y.length; i++) {
      if (y[i] < threshold) {
        y[i] = MASKED;
      }
    }
    return y;
  }

  private static float[][] randomLogits(long seed, int rows, int vocab) {
    Random r = new Random(seed);
    float[][] x = new float[rows][vocab];
    for (float[] row : x) {
      for (int i = 0; i < vocab; i++) {
        row[i] = (float) (2 * r.nextGaussian());
      }
    }
    x[0][3] = x[0][7] = x[0][11] = 9f; // a three-way tie for the top
    x[1][5] = x[1][6] = 1.25f; // ties in the middle
    return x;
  }

  @Test
  void topKMatchesBruteForceIncludingTiesAndEdges() {
    float[][] x = randomLogits(1, 3, 50);
    for (int k : new int[] {0, 1, 2, 5, 17, 50, 80}) {
      float[][] y = run(x, (tf, l) -> LogitFilters.topK(tf, l, tf.constant(k)));
      for (int b = 0; b < x.length; b++) {
        assertArrayEquals(bruteTopK(x[b], k), y[b], "k=" + k + " row " + b);
      }
    }
    // k = 1 with a three-way tie keeps all three (logits >= the largest)
    float[][] y = run(x, (tf, l) -> LogitFilters.topK(tf, l, tf.constant(1)));
    assertEquals(3, countKept(y[0]));
  }

  @Test
  void topPMatchesBruteForce() {
    float[][] x = randomLogits(2, 3, 50);
    // p = 1 is "off" and never reaches this filter (SampleOptions picks another head), so it is not
    // compared here: at exactly 1 the result hangs on float rounding of the cumulative sum.
    for (double p : new double[] {1e-6, 0.1, 0.5, 0.9, 0.999}) {
      float[][] y = run(x, (tf, l) -> LogitFilters.topP(tf, l, tf.constant((float) p)));
      for (int b = 0; b < x.length; b++) {
        assertArrayEquals(bruteTopP(x[b], p), y[b], "p=" + p + " row " + b);
      }
    }
    // a tiny p keeps the single most likely token, or all tokens tied with it
    float[][] y = run(x, (tf, l) -> LogitFilters.topP(tf, l, tf.constant(1e-6f)));
    assertEquals(3, countKept(y[0]));
    assertEquals(1, countKept(y[2]));
  }

  @Test
  void temperatureDividesLogits() {
    float[][] x = {{1f, -2f, 4f}};
    assertArrayEquals(
        new float[] {2f, -4f, 8f},
        run(x, (tf, l) -> LogitFilters.temperature(tf, l, tf.constant(0.5f)))[0]);
  }

  private static int countKept(float[] y) {
    int n = 0;
    for (float v : y) {
      if (v != MASKED) {
        n++;
      }
    }
    return n;
  }

  @Test
  void drawFollowsTheSoftmaxAndIsAFunctionOfTheSeed() {
    int rows = 20000;
    float[] probs = {0.5f, 0.3f, 0.15f, 0.05f};
    float[][] logits = new float[rows][probs.length];
    for (float[] row : logits) {
      for (int i = 0; i < probs.length; i++) {
        row[i] = (float) Math.log(probs[i]);
      }
    }
    int[] a = draws(logits, 7, 1);
    int[] b = draws(logits, 7, 1);
    int[] c = draws(logits, 7, 2);
    assertArrayEquals(a, b, "same seed, same draws");
    assertTrue(!Arrays.equals(a, c), "another seed, other draws");
    int[] counts = new int[probs.length];
    for (int t : a) {
      counts[t]++;
    }
    for (int i = 0; i < probs.length; i++) {
      double expected = probs[i] * rows;
      double sd = Math.sqrt(rows * probs[i] * (1 - probs[i]));
      assertEquals(expected, counts[i], 5 * sd, "token " + i + " drawn " + counts[i] + " times");
    }
  }

  @Test
  void argmaxPicksTheLargest() {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TInt32> out =
          LogitFilters.argmax(tf, tf.constant(new float[][] {{1, 5, 2}, {9, 0, 3}}));
      try (Result r = s.runner().fetch(out).run()) {
        int[] y = new int[2];
        ((TInt32) r.get(0)).copyTo(DataBuffers.of(y, false, false));
        assertArrayEquals(new int[] {1, 0}, y);
      }
    }
  }

  private static int[] draws(float[][] logits, long seedHigh, long seedLow) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TInt32> out =
          LogitFilters.draw(tf, tf.constant(logits), tf.constant(new long[] {seedHigh, seedLow}));
      try (Result r = s.runner().fetch(out).run()) {
        int[] y = new int[logits.length];
        ((TInt32) r.get(0)).copyTo(DataBuffers.of(y, false, false));
        return y;
      }
    }
  }
}
