package dev.gpt2j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

class Gpt2Test {

  /** Runs a graph function on a constant input and returns its float output, flattened. */
  private static float[] eval(
      float[][] input,
      java.util.function.BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> fn) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> out = fn.apply(tf, tf.constant(input));
      try (Result r = s.runner().fetch(out).run()) {
        TFloat32 t = (TFloat32) r.get(0);
        float[] flat = new float[(int) t.size()];
        t.copyTo(org.tensorflow.ndarray.buffer.DataBuffers.of(flat, false, false));
        return flat;
      }
    }
  }

  private static void assertClose(double[] expected, float[] actual, double tol) {
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], tol, "element " + i);
    }
  }

  @Test
  void geluMatchesPicoGptWorkedExample() {
    // picoGPT / "GPT in 60 lines of NumPy": gelu([[1, 2], [-2, 0.5]])
    float[] y = eval(new float[][] {{1, 2}, {-2, 0.5f}}, Gpt2::gelu);
    assertClose(new double[] {0.84119, 1.95460, -0.04540, 0.34571}, y, 1e-5);
  }

  @Test
  void softmaxMatchesKnownValuesAndIsStableForLargeLogits() {
    float[] y = eval(new float[][] {{2, 100}, {-5, 0}}, Gpt2::softmax);
    // exp(-98) / (1 + exp(-98)) and 1 / (1 + e^5)
    assertClose(new double[] {2.7487850e-43, 1.0, 0.0066928509, 0.9933071491}, y, 1e-7);
  }

  @Test
  void dropoutZeroesAShareRateOfElementsAndScalesTheRestToKeepTheMean() {
    int n = 200_000;
    float[][] ones = new float[1][n];
    java.util.Arrays.fill(ones[0], 1f);
    float rate = 0.3f;
    float[] y =
        eval(
            ones,
            (tf, x) ->
                Gpt2.dropout(
                    tf, x, new Gpt2.Dropout(tf.constant(new long[] {5, 7}), tf.constant(rate)), 4));
    long zeros = 0;
    for (float v : y) {
      if (v == 0) {
        zeros++;
      } else {
        assertEquals(1 / (1 - rate), v, 1e-6, "a kept element is scaled by 1 / (1 - rate)");
      }
    }
    // the binomial's standard deviation is 0.001 here: 0.01 is ten of them
    assertEquals(rate, zeros / (double) n, 0.01, "share of zeroed elements");
  }

  @Test
  void layerNormMatchesPicoGptWorkedExample() {
    float[] y =
        eval(
            new float[][] {{2, 2, 3}, {-5, 0, 1}},
            (tf, x) ->
                Gpt2.layerNorm(
                    tf,
                    x,
                    new Params.Norm(
                        tf.constant(new float[] {1, 1, 1}), tf.constant(new float[] {0, 0, 0}))));
    assertClose(new double[] {-0.70709, -0.70709, 1.41418, -1.39700, 0.50800, 0.88900}, y, 1e-5);
  }

  @Test
  void forwardLogitsMatchFloat64ReferenceOnRandomCheckpoint(@TempDir Path tmp) {
    HParams hp = TinyModels.TINY;
    Map<String, float[]> weights = TinyModels.writeRandom(tmp.resolve("m"), hp, 7);
    int[] tokens = new Random(1).ints(hp.nCtx(), 0, hp.nVocab()).toArray();
    double[][] expected = new ReferenceGpt2(hp, weights).logits(tokens);
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"))) {
      float[][] actual = model.logits(new int[][] {tokens})[0];
      double maxRel = 0;
      double scale = 0;
      for (double[] row : expected) {
        for (double v : row) {
          scale = Math.max(scale, Math.abs(v));
        }
      }
      for (int i = 0; i < tokens.length; i++) {
        for (int v = 0; v < hp.nVocab(); v++) {
          maxRel = Math.max(maxRel, Math.abs(actual[i][v] - expected[i][v]) / scale);
        }
      }
      System.out.printf(
          "forward: max |tf - float64| / max|logit| = %.2e (scale %.3f)%n", maxRel, scale);
      assertTrue(maxRel <= 1e-5, "relative error " + maxRel + " > 1e-5");
    }
  }

  @Test
  void incrementalDecodingWithPastGivesTheFullSequenceLogits(@TempDir Path tmp) {
    HParams hp = TinyModels.TINY;
    TinyModels.writeRandom(tmp.resolve("m"), hp, 5);
    int[] tokens = new Random(3).ints(10, 0, hp.nVocab()).toArray();
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"));
        Graph g = new Graph();
        Session s = new Session(g)) {
      float[][] full = model.logits(new int[][] {tokens})[0];
      // the prompt's first 6 tokens in one run, then one token at a time feeding `present` back as
      // `past`
      Ops tf = Ops.create(g);
      ModelVariables vars = ModelVariables.create(tf, hp);
      new dev.gpt2j.checkpoint.CheckpointIO(tf, vars.all())
          .restore(s, dev.gpt2j.checkpoint.ModelDir.latestCheckpoint(tmp.resolve("m")));
      var in =
          tf.placeholder(
              org.tensorflow.types.TInt32.class,
              org.tensorflow.op.core.Placeholder.shape(org.tensorflow.ndarray.Shape.of(-1, -1)));
      var pastIn = tf.placeholder(TFloat32.class);
      Gpt2.Forward first = Gpt2.gpt2(tf, hp, in, vars.params(), null, Product.MATMUL);
      Gpt2.Forward next =
          Gpt2.gpt2(tf, hp, in, vars.params(), new Past(tf, pastIn, hp.nLayer()), Product.MATMUL);
      var grown = tf.concat(java.util.List.of(pastIn, next.present()), tf.constant(-2));
      org.tensorflow.Tensor past;
      try (var t = dev.gpt2j.util.Tensors.matrix(new int[][] {java.util.Arrays.copyOf(tokens, 6)});
          Result r = s.runner().feed(in, t).fetch(first.logits()).fetch(first.present()).run()) {
        assertRowClose(full[5], lastRow((TFloat32) r.get(0)), 5);
        past = copy((TFloat32) r.get(1));
      }
      for (int i = 6; i < tokens.length; i++) {
        try (var t = dev.gpt2j.util.Tensors.matrix(new int[][] {{tokens[i]}});
            Result r =
                s.runner().feed(in, t).feed(pastIn, past).fetch(next.logits()).fetch(grown).run()) {
          assertRowClose(full[i], lastRow((TFloat32) r.get(0)), i);
          past.close();
          past = copy((TFloat32) r.get(1));
        }
      }
      past.close();
    }
  }

  private static float[] lastRow(TFloat32 logits) {
    long t = logits.shape().get(1);
    float[] row = new float[(int) logits.shape().get(2)];
    logits.get(0, t - 1).copyTo(org.tensorflow.ndarray.buffer.DataBuffers.of(row, false, false));
    return row;
  }

  private static TFloat32 copy(TFloat32 t) {
    TFloat32 c = TFloat32.tensorOf(t.shape());
    t.copyTo(c);
    return c;
  }

  private static void assertRowClose(float[] expected, float[] actual, int position) {
    for (int v = 0; v < expected.length; v++) {
      assertEquals(expected[v], actual[v], 1e-4, "position " + position + ", token " + v);
    }
  }
}
