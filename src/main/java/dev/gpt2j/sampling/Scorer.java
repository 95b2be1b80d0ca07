package dev.gpt2j.sampling;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.Product;
import dev.gpt2j.util.Tensors;
import java.util.Arrays;
import java.util.function.IntConsumer;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Log-probabilities of given tokens: whole sequences through the network at once, no cache, in
 * windows of n_ctx for longer texts.
 */
public final class Scorer {
  private final HParams hp;
  private final Session session;
  private final Placeholder<TInt32> tokens;
  private final Operand<TFloat32> logits;
  private final Operand<TFloat32> logprobs;

  /** Builds the scoring graph over {@code params} in {@code tf}'s graph, run by {@code session}. */
  public Scorer(Ops tf, HParams hp, Params params, Session session) {
    this.hp = hp;
    this.session = session;
    Ops s = tf.withSubScope("scorer");
    tokens = s.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    logits = Gpt2.gpt2(tf, hp, tokens, params, null, Product.MATMUL).logits();
    // logits at position i predict token i+1
    logprobs =
        Gpt2.logprobs(
            s,
            s.stridedSlice(logits, Indices.all(), Indices.sliceTo(-1)),
            s.stridedSlice(tokens, Indices.all(), Indices.sliceFrom(1)));
  }

  /**
   * log p(tokens[i+1] | tokens[..i]) for every i. Sequences longer than n_ctx are scored in windows
   * of n_ctx tokens that advance by n_ctx/2, each scoring only targets not yet scored, so every
   * target past the first window sees at least n_ctx/2 tokens of context.
   */
  public double[] score(int[] ids) {
    return score(ids, scored -> {});
  }

  /** The same, telling {@code progress} how many targets are scored after each window. */
  public double[] score(int[] ids, IntConsumer progress) {
    if (ids.length < 2) {
      throw new IllegalArgumentException("need at least 2 tokens to score, got " + ids.length);
    }
    double[] out = new double[ids.length - 1];
    int nCtx = hp.nCtx();
    int scored = 1; // index of the next target token
    int begin = 0;
    while (scored < ids.length) {
      int end = Math.min(begin + nCtx, ids.length);
      float[] window = window(Arrays.copyOfRange(ids, begin, end));
      for (int target = scored; target < end; target++) {
        out[target - 1] = window[target - begin - 1];
      }
      scored = end;
      progress.accept(scored - 1);
      begin = end - nCtx / 2;
    }
    return out;
  }

  // log p(sequence[i+1] | sequence[..i]) for one sequence of at most n_ctx tokens
  private float[] window(int[] sequence) {
    try (TInt32 in = Tensors.matrix(new int[][] {sequence});
        Result r = session.runner().feed(tokens, in).fetch(logprobs).run()) {
      float[] lp = new float[sequence.length - 1];
      ((TFloat32) r.get(0)).get(0).copyTo(DataBuffers.of(lp, false, false));
      return lp;
    }
  }

  /** Logits [B, T, n_vocab] for a batch of equal-length rows of at most n_ctx tokens. */
  public float[][][] logits(int[][] batch) {
    try (TInt32 in = Tensors.matrix(batch);
        Result r = session.runner().feed(tokens, in).fetch(logits).run()) {
      TFloat32 out = (TFloat32) r.get(0);
      float[][][] result = new float[batch.length][batch[0].length][hp.nVocab()];
      for (int b = 0; b < batch.length; b++) {
        for (int i = 0; i < batch[0].length; i++) {
          out.get(b, i).copyTo(DataBuffers.of(result[b][i], false, false));
        }
      }
      return result;
    }
  }
}
