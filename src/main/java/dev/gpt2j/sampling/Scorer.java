package dev.gpt2j.sampling;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.Product;
import dev.gpt2j.util.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

  /** A window of a long text: tokens [begin, end) run together, targets from firstTarget on. */
  public record Window(int begin, int end, int firstTarget) {}

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
   * The windows that score a text of {@code length} tokens: n_ctx tokens each, advancing by {@code
   * stride}, each scoring only targets not yet scored, so every target past the first window is
   * predicted from at least n_ctx - stride tokens of context.
   */
  public static List<Window> windows(int length, int nCtx, int stride) {
    if (stride < 1 || stride >= nCtx) {
      throw new IllegalArgumentException(
          "the stride must be in [1, n_ctx=" + nCtx + "), got " + stride);
    }
    List<Window> windows = new ArrayList<>();
    int scored = 1; // index of the next target token
    for (int begin = 0; scored < length; begin += stride) {
      int end = Math.min(begin + nCtx, length);
      windows.add(new Window(begin, end, scored));
      scored = end;
    }
    return windows;
  }

  /** log p(tokens[i+1] | tokens[..i]) for every i, in the {@link #windows} of stride n_ctx/2. */
  public double[] score(int[] ids) {
    return score(ids, scored -> {});
  }

  /** The same, telling {@code progress} how many targets are scored after each window. */
  public double[] score(int[] ids, IntConsumer progress) {
    if (ids.length < 2) {
      throw new IllegalArgumentException("need at least 2 tokens to score, got " + ids.length);
    }
    double[] out = new double[ids.length - 1];
    for (Window w : windows(ids.length, hp.nCtx(), hp.nCtx() / 2)) {
      float[] window = window(Arrays.copyOfRange(ids, w.begin(), w.end()));
      for (int target = w.firstTarget(); target < w.end(); target++) {
        out[target - 1] = window[target - w.begin() - 1];
      }
      progress.accept(w.end() - 1);
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
