package dev.gpt2j.sampling;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Params;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import dev.gpt2j.util.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * KV-cached decoding. The cache lives in TF resource variables ({@link KvCache}), so keys and
 * values never cross into Java: each graph run puts only the new positions through the network.
 * One run per step serves the whole batch.
 */
public final class Decoder {
  /** Receives each generated token as it is drawn. */
  public interface Sink {
    void accept(int row, int token);
  }

  private final HParams hp;
  private final KvCache cache;
  private final Placeholder<TInt32> tokens;
  private final Placeholder<TInt32> stepTokens;
  private final Operation prefill;
  private final Placeholder<TFloat32> temperature;
  private final Placeholder<TInt32> topK;
  private final Placeholder<TFloat32> topP;
  private final Placeholder<TInt64> seed;
  private final Operand<TFloat32> logits;
  private final Operand<TFloat32> allLogits;
  private final Operand<TFloat32> logprobs;
  private final Operand<TInt32> greedyNext;
  private final Operand<TInt32> plainNext;
  private final Operand<TInt32> topKNext;
  private final Operand<TInt32> topPNext;

  public Decoder(Ops tf, HParams hp, Params params) {
    this.hp = hp;
    Ops s = tf.withSubScope("sampler");
    cache = new KvCache(s, hp);
    // Two graphs over the same weights and cache: any number of positions (a prompt, or a
    // sequence to score), and one position per row, whose every shape but the batch is static
    tokens = s.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    Gpt2.Hidden hidden = Gpt2.decoder(tf, hp, tokens, params, cache);
    prefill = hidden.h().op();
    stepTokens = s.withName("step_tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, 1)));
    Gpt2.Hidden step = Gpt2.decoder(tf, hp, stepTokens, params, cache);
    logits = s.squeeze(Gpt2.lmHead(s, step.h(), params.wte()), Squeeze.axis(List.of(1L)));
    // whole-sequence outputs, for scoring: logits at position i predict token i+1
    allLogits = Gpt2.lmHead(s, hidden.h(), params.wte());
    logprobs = Gpt2.logprobs(s,
        s.stridedSlice(allLogits, Indices.all(), Indices.sliceTo(-1)),
        s.stridedSlice(tokens, Indices.all(), Indices.sliceFrom(1)));

    temperature = s.withName("temperature").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    topK = s.withName("top_k").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    topP = s.withName("top_p").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    seed = s.withName("seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
    Operand<TFloat32> scaled = LogitFilters.temperature(s, logits, temperature);
    Operand<TFloat32> afterK = LogitFilters.topK(s, scaled, topK);
    greedyNext = LogitFilters.argmax(s, logits);
    plainNext = LogitFilters.draw(s, scaled, seed);
    topKNext = LogitFilters.draw(s, afterK, seed);
    topPNext = LogitFilters.draw(s, LogitFilters.topP(s, afterK, topP), seed);
  }

  /**
   * Checks that the prompt's tokens exist in the model's vocabulary and that prompt + length fits
   * the context (or that a sliding window was asked for).
   */
  public static void requireFits(HParams hp, int[] prompt, int length, boolean slidingWindow) {
    for (int t : prompt) {
      if (t < 0 || t >= hp.nVocab()) {
        throw new IllegalArgumentException("prompt token " + t + " is outside the model's vocabulary [0, "
            + hp.nVocab() + ")");
      }
    }
    int promptLength = prompt.length;
    if (promptLength < 1) {
      throw new IllegalArgumentException("the prompt is empty (give a prompt, or --unconditional)");
    }
    if (!slidingWindow && promptLength + length > hp.nCtx()) {
      throw new IllegalArgumentException("prompt (" + promptLength + " tokens) + --length (" + length
          + ") exceeds the model's context of " + hp.nCtx()
          + " tokens; shorten them or pass --sliding-window");
    }
  }

  /**
   * Generates {@code length} tokens after {@code prompt} for {@code rows} rows at once.
   *
   * @param stream index of this batch among all batches of a run, so each gets its own draws
   * @param useCache false recomputes the whole sequence every step (the reference for tests)
   * @return the generated tokens of each row (without the prompt; cut before an end-of-text
   *     token when the options say to stop there)
   */
  public int[][] generate(Session session, int[] prompt, int rows, SampleOptions o, int length,
                          long stream, boolean useCache, Sink sink) {
    requireFits(hp, prompt, length, o.slidingWindow());
    List<List<Integer>> context = new ArrayList<>();
    List<List<Integer>> generated = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      context.add(new ArrayList<>(Arrays.stream(prompt).boxed().toList()));
      generated.add(new ArrayList<>());
    }
    boolean[] done = new boolean[rows];
    Operand<TInt32> head = o.greedy() ? greedyNext : o.topP() < 1 ? topPNext : o.topK() > 0 ? topKNext : plainNext;
    int cached = 0;  // positions held in the KV cache
    int[][] feed = null;
    try (TFloat32 t = TFloat32.scalarOf((float) o.temperature());
         TInt32 k = TInt32.scalarOf(o.topK());
         TFloat32 p = TFloat32.scalarOf((float) o.topP())) {
      for (int step = 0; step < length && !allDone(done); step++) {
        if (feed == null || !useCache || cached + 1 > hp.nCtx()) {
          int[][] window = refill(context);
          // room for the window and the positions of the steps after this one
          reset(session, rows, Math.min(hp.nCtx(), window[0].length + length - 1 - step));
          // the cache takes all of the window but its last token, which goes through as a step
          cached = window[0].length - 1;
          if (cached > 0) {
            runPrefill(session, Arrays.stream(window).map(w -> Arrays.copyOf(w, w.length - 1))
                .toArray(int[][]::new));
          }
          feed = Arrays.stream(window).map(w -> new int[] {w[w.length - 1]}).toArray(int[][]::new);
        }
        int[] next = run(session, feed, cached, head, t, k, p, o.seed(), (stream << 32) | step);
        cached += 1;
        feed = new int[rows][1];
        for (int r = 0; r < rows; r++) {
          feed[r][0] = next[r];
          context.get(r).add(next[r]);
          if (done[r]) {
            continue;
          }
          if (o.stopAtEndOfText() && next[r] == Gpt2Tokenizer.END_OF_TEXT) {
            done[r] = true;
            continue;
          }
          generated.get(r).add(next[r]);
          sink.accept(r, next[r]);
        }
      }
    }
    return generated.stream().map(g -> g.stream().mapToInt(Integer::intValue).toArray())
        .toArray(int[][]::new);
  }

  /** Logits [B, T, n_vocab] of a fresh (uncached) run over equal-length rows. */
  public float[][][] logits(Session session, int[][] batch) {
    reset(session, batch.length, batch[0].length);
    try (TInt32 in = Tensors.matrix(batch);
         Result r = session.runner().feed(tokens, in).fetch(allLogits).run()) {
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

  /** log p(tokens[i+1] | tokens[..i]) for one sequence of at most n_ctx tokens (fresh run). */
  public float[] logprobs(Session session, int[] sequence) {
    reset(session, 1, sequence.length);
    try (TInt32 in = Tensors.matrix(new int[][] {sequence});
         Result r = session.runner().feed(tokens, in).fetch(logprobs).run()) {
      float[] lp = new float[sequence.length - 1];
      ((TFloat32) r.get(0)).get(0).copyTo(DataBuffers.of(lp, false, false));
      return lp;
    }
  }

  // After a cache reset: the rows' whole context when it fits n_ctx, else (sliding window) its
  // last n_ctx/2 tokens, leaving room for n_ctx/2 more steps before the next reset.
  private int[][] refill(List<List<Integer>> context) {
    int len = context.get(0).size();
    int from = len <= hp.nCtx() ? 0 : len - hp.nCtx() / 2;
    int[][] rows = new int[context.size()][];
    for (int r = 0; r < rows.length; r++) {
      rows[r] = context.get(r).subList(from, len).stream().mapToInt(Integer::intValue).toArray();
    }
    return rows;
  }

  private void reset(Session session, int rows, int capacity) {
    try (TInt32 b = TInt32.scalarOf(rows);
         TInt32 c = TInt32.scalarOf(capacity)) {
      session.runner().feed(cache.batchSize, b).feed(cache.capacity, c).addTarget(cache.reset).run()
          .close();
    }
  }

  private void runPrefill(Session session, int[][] prompt) {
    try (TInt32 in = Tensors.matrix(prompt)) {
      session.runner().feed(tokens, in).addTarget(prefill).run().close();
    }
  }

  private int[] run(Session session, int[][] feed, int cached, Operand<TInt32> head, TFloat32 t,
                    TInt32 k, TFloat32 p, long seedHigh, long seedLow) {
    try (TInt32 in = Tensors.matrix(feed);
         TInt32 start = TInt32.scalarOf(cached);
         TInt64 s = TInt64.vectorOf(seedHigh, seedLow);
         Result r = session.runner().feed(stepTokens, in).feed(cache.length, start).feed(temperature, t)
             .feed(topK, k).feed(topP, p).feed(seed, s).fetch(head).run()) {
      int[] next = new int[feed.length];
      ((TInt32) r.get(0)).copyTo(DataBuffers.of(next, false, false));
      return next;
    }
  }

  private static boolean allDone(boolean[] done) {
    for (boolean d : done) {
      if (!d) {
        return false;
      }
    }
    return true;
  }

}
