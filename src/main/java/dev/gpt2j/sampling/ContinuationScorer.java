package dev.gpt2j.sampling;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.Past;
import dev.gpt2j.model.Product;
import dev.gpt2j.util.Tensors;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Scores continuations of shared prefixes, as multiple-choice and cloze evaluations need: each
 * prefix goes through the network once, and its continuations run after it on its keys and values
 * (openai's {@code past}), so a HellaSwag context is not computed again for each of its four
 * endings. Only continuation tokens are scored; the first is predicted from the prefix's last
 * position.
 */
public final class ContinuationScorer {
  private final HParams hp;
  private final Session session;
  private final Placeholder<TInt32> prefixes;
  private final Placeholder<TInt32> continuations;
  private final Operand<TFloat32> logprobs;
  private final Operand<TBool> greedy;

  /**
   * For each continuation row r: {@code logprobs[r][j]} is log p(cont[j] | prefix + cont[..j]),
   * {@code greedy[r][j]} whether cont[j] is the most likely token there (the lowest id among
   * equals).
   */
  public record Scores(float[][] logprobs, boolean[][] greedy) {}

  /** Builds the graph over {@code params} in {@code tf}'s graph, run by {@code session}. */
  public ContinuationScorer(Ops tf, HParams hp, Params params, Session session) {
    this.hp = hp;
    this.session = session;
    Ops s = tf.withSubScope("continuations");
    prefixes =
        s.withName("prefixes").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    continuations =
        s.withName("continuations").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    Gpt2.Forward prefix = Gpt2.gpt2(tf, hp, prefixes, params, null, Product.MATMUL);
    // continuation row r follows prefix r / K, K = continuations per prefix
    Operand<TInt32> perPrefix =
        s.math.floorDiv(Gpt2.dim(s, continuations, 0), Gpt2.dim(s, prefixes, 0));
    Operand<TInt32> owner =
        s.math.floorDiv(
            s.range(s.constant(0), Gpt2.dim(s, continuations, 0), s.constant(1)), perPrefix);
    Operand<TFloat32> past = s.gather(prefix.present(), owner, s.constant(0));
    Gpt2.Forward next =
        Gpt2.gpt2(tf, hp, continuations, params, new Past(s, past, hp.nLayer()), Product.MATMUL);
    // the prefix's last position predicts the first continuation token; only it needs logits
    Operand<TFloat32> last =
        s.gather(
            s.stridedSlice(prefix.h(), Indices.all(), Indices.sliceFrom(-1), Indices.all()),
            owner,
            s.constant(0));
    Operand<TFloat32> predicting =
        s.concat(
            List.of(
                Gpt2.lmHead(s, last, params.wte(), Product.MATMUL),
                s.stridedSlice(next.logits(), Indices.all(), Indices.sliceTo(-1), Indices.all())),
            s.constant(1));
    logprobs = Gpt2.logprobs(s, predicting, continuations);
    greedy = s.math.equal(s.math.argMax(predicting, s.constant(-1), TInt32.class), continuations);
  }

  /**
   * Scores {@code continuations[i]} (each a list of token rows) after {@code prefixes[i]}, in one
   * run. Prefixes must have one length and every prefix the same number of continuations; shorter
   * continuations are padded on the right, which attention, being causal, never lets reach a row's
   * own tokens. Rows come back in order: prefix 0's continuations first.
   */
  public Scores score(int[][] prefixes, int[][][] continuations) {
    int length = prefixes[0].length;
    int perPrefix = continuations[0].length;
    int longest = 0;
    for (int i = 0; i < prefixes.length; i++) {
      if (prefixes[i].length != length || continuations[i].length != perPrefix) {
        throw new IllegalArgumentException(
            "prefixes of one length and the same number of continuations each, please");
      }
      for (int[] c : continuations[i]) {
        longest = Math.max(longest, c.length);
      }
    }
    if (length < 1 || longest < 1 || length + longest > hp.nCtx()) {
      throw new IllegalArgumentException(
          "a prefix of "
              + length
              + " tokens and continuations of up to "
              + longest
              + " must both be non-empty and fit n_ctx="
              + hp.nCtx());
    }
    int width = longest;
    int[][] rows =
        Arrays.stream(continuations)
            .flatMap(Arrays::stream)
            .map(c -> Arrays.copyOf(c, width))
            .toArray(int[][]::new);
    try (TInt32 p = Tensors.matrix(prefixes);
        TInt32 c = Tensors.matrix(rows);
        Result r =
            session
                .runner()
                .feed(this.prefixes, p)
                .feed(this.continuations, c)
                .fetch(logprobs)
                .fetch(greedy)
                .run()) {
      return scores((TFloat32) r.get(0), (TBool) r.get(1), continuations);
    }
  }

  private static Scores scores(TFloat32 lp, TBool best, int[][][] continuations) {
    int n = Arrays.stream(continuations).mapToInt(c -> c.length).sum();
    float[][] logprobs = new float[n][];
    boolean[][] greedy = new boolean[n][];
    int row = 0;
    for (int[][] group : continuations) {
      for (int[] c : group) {
        logprobs[row] = new float[c.length];
        greedy[row] = new boolean[c.length];
        lp.get(row)
            .slice(Indices.sliceTo(c.length))
            .copyTo(DataBuffers.of(logprobs[row], false, false));
        for (int j = 0; j < c.length; j++) {
          greedy[row][j] = best.getBoolean(row, j);
        }
        row++;
      }
    }
    return new Scores(logprobs, greedy);
  }
}
