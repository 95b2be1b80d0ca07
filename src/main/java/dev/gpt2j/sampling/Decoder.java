package dev.gpt2j.sampling;

import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import dev.gpt2j.util.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * The decoding loop: KV-cached generation over a {@link DecodingGraph}. The cache lives in TF
 * variables ({@link KvCache}), so keys and values never cross into Java: each graph run puts only
 * the new positions through the network, one run per step for the whole batch.
 */
public final class Decoder {
  /** Receives each generated token as it is drawn. */
  public interface Sink {
    void accept(int row, int token);
  }

  private final Session session;
  private final DecodingGraph g;

  public Decoder(Session session, DecodingGraph graph) {
    this.session = session;
    this.g = graph;
  }

  /**
   * Brings the step's own copies of the weights up to date ({@link DecodingGraph#repack}): after
   * the weights were restored, initialised or trained.
   */
  public void weightsChanged() {
    session.runner().addTarget(g.repack).run().close();
  }

  /**
   * Checks that the prompt's tokens exist in the model's vocabulary and that prompt + length fits
   * the context (or that a sliding window was asked for).
   */
  public static void requireFits(HParams hp, int[] prompt, int length, boolean slidingWindow) {
    hp.requireInVocabulary(prompt, "prompt token");
    int promptLength = prompt.length;
    if (promptLength < 1) {
      throw new IllegalArgumentException("the prompt is empty (give a prompt, or --unconditional)");
    }
    if (!slidingWindow && promptLength + length > hp.nCtx()) {
      throw new IllegalArgumentException(
          "prompt ("
              + promptLength
              + " tokens) + --length ("
              + length
              + ") exceeds the model's context of "
              + hp.nCtx()
              + " tokens; shorten them or pass --sliding-window");
    }
  }

  /**
   * Generates {@code length} tokens after {@code prompt} for {@code rows} rows at once.
   *
   * @param stream index of this batch among all batches of a run, so each gets its own draws
   * @return the generated tokens of each row (without the prompt; cut before an end-of-text token
   *     when the options say to stop there)
   */
  public int[][] generate(
      int[] prompt, int rows, SampleOptions o, int length, long stream, Sink sink) {
    int[][] prompts = new int[rows][];
    Arrays.fill(prompts, prompt);
    return generate(prompts, o, length, stream, sink);
  }

  /**
   * Generates {@code length} tokens after each row's own prompt, all rows at once: the cache holds
   * each row's length, so prompts of different lengths decode side by side.
   */
  public int[][] generate(int[][] prompts, SampleOptions o, int length, long stream, Sink sink) {
    HParams hp = g.hp;
    int rows = prompts.length;
    List<List<Integer>> context = new ArrayList<>();
    List<List<Integer>> generated = new ArrayList<>();
    for (int[] prompt : prompts) {
      requireFits(hp, prompt, length, o.slidingWindow());
      context.add(new ArrayList<>(Arrays.stream(prompt).boxed().toList()));
      generated.add(new ArrayList<>());
    }
    boolean[] done = new boolean[rows];
    Operand<TInt32> head = g.step(rows).next(o);
    int[] cached = new int[rows]; // positions each row holds in the KV cache
    int[][] feed = null;
    try (StepFeeds feeds = new StepFeeds(rows, o)) {
      for (int step = 0; step < length && !allDone(done); step++) {
        if (feed == null || Arrays.stream(cached).max().getAsInt() + 1 > hp.nCtx()) {
          int[][] window = refill(context);
          int longest = Arrays.stream(window).mapToInt(w -> w.length).max().getAsInt();
          // room for the windows and the positions of the steps after this one
          g.cache.reset(session, rows, Math.min(hp.nCtx(), longest + length - 1 - step));
          // the cache takes all of each window but its last token, which goes through as a step
          for (int r = 0; r < rows; r++) {
            cached[r] = window[r].length - 1;
          }
          if (longest > 1) {
            prefill(
                Arrays.stream(window)
                    .map(w -> Arrays.copyOf(w, longest - 1)) // cut, or padded on the right
                    .toArray(int[][]::new));
          }
          feed = Arrays.stream(window).map(w -> new int[] {w[w.length - 1]}).toArray(int[][]::new);
        }
        int[] next = step(feeds, feed, cached, head, (stream << 32) | step);
        feed = new int[rows][1];
        for (int r = 0; r < rows; r++) {
          cached[r] += 1;
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
    return generated.stream()
        .map(gen -> gen.stream().mapToInt(Integer::intValue).toArray())
        .toArray(int[][]::new);
  }

  /**
   * The logits the decoding step computes for each position of {@code tokens}, fed one at a time
   * through the KV cache ([T, n_vocab]; row i predicts token i+1).
   */
  public float[][] stepLogits(int[] tokens) {
    g.cache.reset(session, 1, tokens.length);
    float[][] out = new float[tokens.length][];
    for (int i = 0; i < tokens.length; i++) {
      try (TInt32 in = Tensors.matrix(new int[][] {{tokens[i]}});
          TInt32 start = TInt32.vectorOf(i);
          Result r =
              session
                  .runner()
                  .feed(g.stepTokens, in)
                  .feed(g.cache.length, start)
                  .fetch(g.step(1).logits())
                  .run()) {
        out[i] = new float[g.hp.nVocab()];
        ((TFloat32) r.get(0)).copyTo(DataBuffers.of(out[i], false, false));
      }
    }
    return out;
  }

  // After a cache reset: each row's whole context when it fits n_ctx, else (sliding window) its
  // last n_ctx/2 tokens, leaving room for n_ctx/2 more steps before the next reset.
  private int[][] refill(List<List<Integer>> context) {
    int[][] rows = new int[context.size()][];
    for (int r = 0; r < rows.length; r++) {
      int len = context.get(r).size();
      int from = len <= g.hp.nCtx() ? 0 : len - g.hp.nCtx() / 2;
      rows[r] = context.get(r).subList(from, len).stream().mapToInt(Integer::intValue).toArray();
    }
    return rows;
  }

  // into a freshly reset cache: every row from position 0
  private void prefill(int[][] prompt) {
    try (TInt32 in = Tensors.matrix(prompt);
        TInt32 start = TInt32.vectorOf(new int[prompt.length])) {
      session
          .runner()
          .feed(g.tokens, in)
          .feed(g.cache.length, start)
          .addTarget(g.prefill)
          .run()
          .close();
    }
  }

  private int[] step(
      StepFeeds feeds, int[][] feed, int[] cached, Operand<TInt32> head, long seedLow) {
    try (Result r = feeds.set(feed, cached, seedLow).into(session.runner()).fetch(head).run()) {
      int[] next = new int[feed.length];
      ((TInt32) r.get(0)).copyTo(DataBuffers.of(next, false, false));
      return next;
    }
  }

  /**
   * A generation's step inputs, allocated once and rewritten in place at every step: a step of a
   * small model is short enough that making, feeding and freeing tensors shows in its time. A
   * greedy step is fed only the tokens and positions, the only inputs its argmax reads.
   */
  private final class StepFeeds implements AutoCloseable {
    private final TInt32 tokens;
    private final TInt32 cached;
    private final TInt64 seed;
    private final TFloat32 temperature;
    private final TInt32 topK;
    private final TFloat32 topP;
    private final boolean draws;

    StepFeeds(int rows, SampleOptions o) {
      tokens = TInt32.tensorOf(Shape.of(rows, 1));
      cached = TInt32.tensorOf(Shape.of(rows));
      seed = TInt64.vectorOf(o.seed(), 0);
      temperature = TFloat32.scalarOf((float) o.temperature());
      topK = TInt32.scalarOf(o.topK());
      topP = TFloat32.scalarOf((float) o.topP());
      draws = !o.greedy();
    }

    StepFeeds set(int[][] feed, int[] positions, long seedLow) {
      for (int r = 0; r < feed.length; r++) {
        tokens.setInt(feed[r][0], r, 0);
        cached.setInt(positions[r], r);
      }
      seed.setLong(seedLow, 1);
      return this;
    }

    Session.Runner into(Session.Runner runner) {
      runner.feed(g.stepTokens, tokens).feed(g.cache.length, cached);
      return draws
          ? runner
              .feed(g.temperature, temperature)
              .feed(g.topK, topK)
              .feed(g.topP, topP)
              .feed(g.seed, seed)
          : runner;
    }

    @Override
    public void close() {
      List.of(tokens, cached, seed, temperature, topK, topP).forEach(TType::close);
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
