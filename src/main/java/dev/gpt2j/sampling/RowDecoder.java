package dev.gpt2j.sampling;

import dev.gpt2j.model.HParams;
import dev.gpt2j.util.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Continuous batching over a {@link DecodingGraph}: up to {@code maxRows} rows decode side by side,
 * each after its own prompt and at its own position, and rows join and leave between steps. A row
 * joins by prefilling its prompt into the first free slot of the KV cache; a row that leaves frees
 * its slot at once (the last row moves into it, so the rows in use are always the first ones and a
 * step computes only them). The cache holds as many positions as the longest row may need (rounded
 * up), resized as rows join and leave, since attention reads every position it holds. The caller
 * draws each row's next token from the step's logits, so every row can sample its own way.
 *
 * @param <R> what the caller keeps with each row; {@link #rows} lists them in slot order
 */
public final class RowDecoder<R> {
  private final Session session;
  private final DecodingGraph g;
  private final int maxRows;
  private final List<R> rows = new ArrayList<>();
  private final int[] cached; // positions each slot holds in the cache
  private final int[] next; // the token each slot puts through the next step
  private final int[] need; // positions each slot may write: its prompt and its new tokens but one
  private int capacity;
  private final float[][] logits;

  private static final int CAPACITY_STEP = 16; // the cache grows and shrinks by this many positions

  /** Sizes the cache for {@code maxRows} rows. */
  public RowDecoder(Session session, DecodingGraph graph, int maxRows) {
    this.session = session;
    this.g = graph;
    this.maxRows = maxRows;
    cached = new int[maxRows];
    next = new int[maxRows];
    need = new int[maxRows];
    capacity = Math.min(CAPACITY_STEP, graph.hp.nCtx());
    logits = new float[maxRows][graph.hp.nVocab()];
    graph.cache.reset(session, maxRows, capacity);
  }

  public HParams hparams() {
    return g.hp;
  }

  /** The rows decoding now, in slot order: row i's logits are {@code step()[i]}. */
  public List<R> rows() {
    return rows;
  }

  /** How many more rows can join. */
  public int free() {
    return maxRows - rows.size();
  }

  /**
   * Adds a row after {@code prompt} that will be given at most {@code newTokens} tokens: all the
   * prompt's tokens but the last go into the cache now, the last goes through the next step (as
   * {@link Decoder} does, so the two give the same logits).
   */
  public void join(R row, int[] prompt, int newTokens) {
    join(List.of(row), List.of(prompt), new int[] {newTokens});
  }

  /**
   * Adds a row as {@link #join(Object, int[], int)} does, and gives back what its prefill computed
   * on the way: the logits [prompt length - 1, n_vocab] of the prompt's positions but its last, of
   * which row i predicts the prompt's token i + 1 (openai's echo with logprobs). One row at a time,
   * so that a batch's prefill never holds more than one prompt's logits.
   */
  public float[][] joinWithPromptLogits(R row, int[] prompt, int newTokens) {
    float[][] logits = new float[prompt.length - 1][];
    join(List.of(row), List.of(prompt), new int[] {newTokens}, logits);
    return logits;
  }

  /**
   * The same logits for a prompt that is given no tokens: prefilled into a free slot, which stays
   * free.
   */
  public float[][] promptLogits(int[] prompt) {
    if (free() == 0) {
      throw new IllegalStateException("no free slot to prefill a prompt in");
    }
    Decoder.requireFits(g.hp, prompt, 0, false);
    int slot = rows.size();
    float[][] logits = new float[prompt.length - 1][];
    if (logits.length > 0) {
      need[slot] = prompt.length - 1;
      fitCapacity(slot + 1);
      prefill(slot, new int[][] {Arrays.copyOf(prompt, prompt.length - 1)}, logits);
    }
    return logits;
  }

  /** Adds several rows at once: their prompts go into the cache in one pass. */
  public void join(List<R> joining, List<int[]> prompts, int[] newTokens) {
    join(joining, prompts, newTokens, null);
  }

  // promptLogits, when not null, receives the one joining row's prefill logits
  private void join(List<R> joining, List<int[]> prompts, int[] newTokens, float[][] promptLogits) {
    if (joining.size() > free()) {
      throw new IllegalStateException(
          joining.size() + " rows cannot join: " + free() + " of " + maxRows + " are free");
    }
    int first = rows.size();
    int longest = 0;
    for (int j = 0; j < joining.size(); j++) {
      int[] prompt = prompts.get(j);
      Decoder.requireFits(g.hp, prompt, newTokens[j], false);
      int slot = first + j;
      need[slot] = prompt.length + newTokens[j] - 1;
      cached[slot] = prompt.length - 1;
      next[slot] = prompt[prompt.length - 1];
      longest = Math.max(longest, prompt.length - 1);
    }
    fitCapacity(first + joining.size());
    if (longest > 0) { // each prompt but its last token, padded on the right
      int cut = longest;
      prefill(
          first,
          prompts.stream().map(p -> Arrays.copyOf(p, cut)).toArray(int[][]::new),
          promptLogits);
    }
    rows.addAll(joining);
  }

  /**
   * One step of every row: the logits [rows, n_vocab] of each row's next token. The arrays are
   * reused by the next step.
   */
  public float[][] step() {
    int n = rows.size();
    int[][] feed = new int[n][1];
    for (int i = 0; i < n; i++) {
      feed[i][0] = next[i];
    }
    try (TInt32 in = Tensors.matrix(feed);
        TInt32 start = TInt32.vectorOf(Arrays.copyOf(cached, n));
        Result r =
            session
                .runner()
                .feed(g.stepTokens, in)
                .feed(g.cache.length, start)
                .fetch(g.step(n).logits())
                .run()) {
      TFloat32 out = (TFloat32) r.get(0);
      for (int i = 0; i < n; i++) {
        out.get(i).copyTo(DataBuffers.of(logits[i], false, false));
        cached[i] += 1;
      }
    }
    return Arrays.copyOf(logits, n);
  }

  /** Gives row {@code i} its next token (drawn from its logits), to go through the next step. */
  public void feed(int i, int token) {
    if (token < 0 || token >= g.hp.nVocab()) {
      throw new IllegalArgumentException("token " + token + " is outside the vocabulary");
    }
    if (cached[i] >= need[i]) {
      throw new IllegalStateException("row " + i + " was given all the tokens it joined for");
    }
    next[i] = token;
  }

  /** Removes row {@code i}: the last row takes its slot (and index in {@link #rows}). */
  public void leave(int i) {
    int last = rows.size() - 1;
    if (i != last) {
      g.cache.move(session, last, i);
      rows.set(i, rows.get(last));
      cached[i] = cached[last];
      next[i] = next[last];
      need[i] = need[last];
    }
    rows.remove(last);
    fitCapacity(last);
  }

  /**
   * Forgets every row (after a failed run, whose cache contents no longer matter: a joining row
   * writes its own positions).
   */
  public void clear() {
    rows.clear();
  }

  // the cache's capacity: what the first n slots need, rounded up to CAPACITY_STEP; it grows at
  // once and shrinks only by a quarter or more, since resizing copies the whole cache
  private void fitCapacity(int n) {
    int most = 1;
    for (int i = 0; i < n; i++) {
      most = Math.max(most, need[i]);
    }
    int fit = Math.min(g.hp.nCtx(), (most + CAPACITY_STEP - 1) / CAPACITY_STEP * CAPACITY_STEP);
    if (fit > capacity || fit <= capacity * 3 / 4) {
      g.cache.resize(session, fit);
      capacity = fit;
    }
  }

  // prompts' positions into the cache rows from slot on, each from position 0; with logits not
  // null, the first prompt's logits too, a row for each of its positions
  private void prefill(int slot, int[][] tokens, float[][] logits) {
    try (TInt32 in = Tensors.matrix(tokens);
        TInt32 start = TInt32.vectorOf(new int[tokens.length]);
        TInt32 first = TInt32.scalarOf(slot)) {
      Session.Runner run =
          session
              .runner()
              .feed(g.tokens, in)
              .feed(g.cache.length, start)
              .feed(g.cache.first, first)
              .addTarget(g.prefill);
      if (logits != null) {
        run.fetch(g.prefillLogits);
      }
      try (Result r = run.run()) {
        if (logits != null) {
          TFloat32 out = (TFloat32) r.get(0);
          for (int t = 0; t < logits.length; t++) {
            logits[t] = new float[g.hp.nVocab()];
            out.get(0, t).copyTo(DataBuffers.of(logits[t], false, false));
          }
        }
      }
    }
  }
}
