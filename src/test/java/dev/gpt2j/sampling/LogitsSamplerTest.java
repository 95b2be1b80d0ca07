package dev.gpt2j.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** The Java sampler serve draws with, against the graph filters sample uses (openai's). */
class LogitsSamplerTest {
  // for random logits, the tokens the Java filters keep are the ones LogitFilters' graph keeps
  @Test
  void filtersKeepWhatTheGraphFiltersKeep() {
    Random random = new Random(5);
    int vocab = 3000; // above the few candidates top-p sorts first, so the widening runs too
    for (int k : new int[] {0, 1, 7, 400}) {
      for (double p : new double[] {1, 0.9, 0.5, 0.02}) {
        for (double scale : new double[] {0.3, 3}) {
          float[] logits = new float[vocab];
          for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (random.nextGaussian() * scale);
          }
          logits[11] = logits[12]; // a tie
          float[] graph = graphFilters(logits, k, p);
          double floor = new LogitsSampler(1, k, p, 0, 0).floor(logits);
          for (int i = 0; i < vocab; i++) {
            assertEquals(graph[i] > -1e9, logits[i] >= floor, "k " + k + " p " + p + " token " + i);
          }
        }
      }
    }
  }

  // draws follow softmax(logits / temperature): each count within 5 standard deviations
  @Test
  void drawsFollowTheSoftmax() {
    float[] logits = {0.5f, -1f, 2f, 0f, 1f};
    double temperature = 0.8;
    LogitsSampler s = new LogitsSampler(temperature, 0, 1, 0, 0);
    SplittableRandom rng = new SplittableRandom(1);
    int draws = 40_000;
    int[] counts = new int[logits.length];
    float[] scratch = new float[logits.length];
    for (int i = 0; i < draws; i++) {
      counts[s.next(logits, Map.of(), rng, scratch)]++;
    }
    double sum = 0;
    for (float l : logits) {
      sum += Math.exp(l / temperature);
    }
    for (int i = 0; i < logits.length; i++) {
      double q = Math.exp(logits[i] / temperature) / sum;
      double sd = Math.sqrt(draws * q * (1 - q));
      assertTrue(Math.abs(counts[i] - draws * q) < 5 * sd, "token " + i + ": " + counts[i]);
    }
  }

  // OpenAI's penalties: logit[j] -= count[j] * frequency + (count[j] > 0) * presence
  @Test
  void penaltiesLowerTheTokensGeneratedSoFar() {
    float[] logits = {1.0f, 0.7f, 0.2f};
    float[] scratch = new float[3];
    Map<Integer, Integer> counts = new HashMap<>(Map.of(0, 2));
    SplittableRandom rng = new SplittableRandom(0);
    assertEquals(0, new LogitsSampler(0, 0, 1, 0.2, 0).next(logits, counts, rng, scratch));
    assertEquals(1, new LogitsSampler(0, 0, 1, 0.4, 0).next(logits, counts, rng, scratch));
    assertEquals(0, new LogitsSampler(0, 0, 1, 0, 0.1).next(logits, counts, rng, scratch));
    assertEquals(1, new LogitsSampler(0, 0, 1, 0, 0.2).next(logits, counts, rng, scratch));
    counts.put(1, 1); // frequency 0.6: 1 - 1.2, 0.7 - 0.6, 0.2
    assertEquals(2, new LogitsSampler(0, 0, 1, 0, 0.6).next(logits, counts, rng, scratch));
    assertArrayEquals(new float[] {1.0f, 0.7f, 0.2f}, logits, "logits left as they were");
  }

  @Test
  void topIndicesAreTheLargestInOrderWithTiesByIndex() {
    float[] v = {0.1f, 3f, 2f, 3f, -1f, 2.5f};
    assertArrayEquals(new int[] {1, 3, 5}, LogitsSampler.topIndices(v, 3));
    assertArrayEquals(new int[] {1}, LogitsSampler.topIndices(v, 1));
  }

  // logits / temperature, then top-k, then top-p, as sample's graph does (top-p 1 is off there,
  // not a float32 cumulative sum that may pass 1); -1e10 where filtered
  private static float[] graphFilters(float[] logits, int k, double p) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.constant(new float[][] {logits});
      Operand<TFloat32> out =
          LogitFilters.topK(tf, LogitFilters.temperature(tf, x, tf.constant(1f)), tf.constant(k));
      if (p < 1) {
        out = LogitFilters.topP(tf, out, tf.constant((float) p));
      }
      try (Result r = s.runner().fetch(out).run()) {
        float[] y = new float[logits.length];
        ((TFloat32) r.get(0)).get(0).copyTo(DataBuffers.of(y, false, false));
        return y;
      }
    }
  }

  // OpenAI's logit bias: added to the logit before the filters, -100 banning the token
  @Test
  void logitBiasShiftsAndBans() {
    float[] logits = {1, 2, 3};
    Map<Integer, Integer> none = Map.of();
    float[] scratch = new float[3];
    SplittableRandom rng = new SplittableRandom(1);
    assertEquals(
        1, new LogitsSampler(0, 0, 1, 0, 0, Map.of(2, -100f)).next(logits, none, rng, scratch));
    assertEquals(
        0, new LogitsSampler(0, 0, 1, 0, 0, Map.of(0, 2.5f)).next(logits, none, rng, scratch));
    assertEquals(
        2, new LogitsSampler(0, 0, 1, 0, 0, Map.of(0, 1.5f)).next(logits, none, rng, scratch));
    LogitsSampler banned = new LogitsSampler(1, 0, 1, 0, 0, Map.of(2, -100f));
    int[] seen = new int[3];
    for (int i = 0; i < 4000; i++) {
      seen[banned.next(logits, none, rng, scratch)]++;
    }
    assertEquals(0, seen[2], "a banned token is never drawn");
    // the rest keep softmax's odds: e^1 : e^2
    assertEquals(Math.exp(1) / (Math.exp(1) + Math.exp(2)), seen[0] / 4000.0, 0.03);
    assertArrayEquals(new float[] {1, 2, 3}, logits, "the logits are left as they were");
  }
}
