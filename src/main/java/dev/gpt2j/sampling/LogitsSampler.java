package dev.gpt2j.sampling;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Draws one row's next token from its logits in Java, so every row of a batch samples its own way
 * and from its own random stream: the same seed gives the same tokens whatever else is batched. The
 * filters are {@link LogitFilters}' (openai/gpt-2 sample.py's): logits / temperature, top-k (ties
 * kept), top-p (the tokens whose inclusive cumulative probability is at most p, at least one, and
 * every logit at least the last kept one), then a categorical draw; before them, OpenAI's logit
 * bias ({@code logit[j] += bias[j]}, a bias of {@value #BAN} banning the token) and its presence
 * and frequency penalties: {@code logit[j] -= count[j] * frequency + (count[j] > 0) * presence}
 * over the tokens generated so far.
 *
 * @param temperature 0 is greedy (argmax, the first of equal logits)
 * @param topK 0 = off
 * @param topP 1 = off
 * @param logitBias token id to the bias added to its logit, in [-100, 100]
 */
public record LogitsSampler(
    double temperature,
    int topK,
    double topP,
    double presencePenalty,
    double frequencyPenalty,
    Map<Integer, Float> logitBias) {

  /** The bias that bans a token, as OpenAI's API reads it. */
  public static final float BAN = -100;

  /** No logit bias. */
  public LogitsSampler(
      double temperature, int topK, double topP, double presencePenalty, double frequencyPenalty) {
    this(temperature, topK, topP, presencePenalty, frequencyPenalty, Map.of());
  }

  private static final int FIRST_CANDIDATES = 256; // top-p looks at this many before sorting more

  // exp(-40) next to the largest term (1) changes a sum by less than a double's rounding: logits
  // further below the largest are left out of sums instead of taking their exp
  private static final double NEGLIGIBLE = -40;

  public LogitsSampler {
    if (!(temperature >= 0)) {
      throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }
    logitBias = Map.copyOf(logitBias);
  }

  /**
   * The next token after {@code logits} (left unchanged), given how often each token was generated
   * so far; {@code scratch} is a work array of the same length.
   */
  public int next(float[] logits, Map<Integer, Integer> counts, SplittableRandom rng, float[] s) {
    boolean penalties = !counts.isEmpty() && (presencePenalty != 0 || frequencyPenalty != 0);
    if (temperature == 0 && !penalties && logitBias.isEmpty()) {
      return argmax(logits);
    }
    System.arraycopy(logits, 0, s, 0, logits.length);
    for (Map.Entry<Integer, Float> b : logitBias.entrySet()) {
      s[b.getKey()] = b.getValue() <= BAN ? Float.NEGATIVE_INFINITY : s[b.getKey()] + b.getValue();
    }
    for (Map.Entry<Integer, Integer> c : counts.entrySet()) {
      s[c.getKey()] -= (float) (c.getValue() * frequencyPenalty + presencePenalty);
    }
    if (temperature == 0) {
      return argmax(s);
    }
    for (int i = 0; i < s.length; i++) {
      s[i] = (float) (s[i] / temperature);
    }
    return draw(s, floor(s), rng);
  }

  // the least logit of scaled (logits / temperature) that top-k and top-p keep
  double floor(float[] scaled) {
    double floor = Double.NEGATIVE_INFINITY;
    if (topK > 0 && topK < scaled.length) {
      floor = largest(scaled, topK)[topK - 1];
    }
    if (topP < 1) {
      floor = Math.max(floor, topPFloor(scaled, floor));
    }
    return floor;
  }

  /** The index of the largest value (the first of equal ones). */
  public static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  /** log softmax of {@code logits}, in double. */
  public static double[] logSoftmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double sum = 0;
    for (float l : logits) {
      sum += Math.exp(l - max);
    }
    double log = max + Math.log(sum);
    double[] out = new double[logits.length];
    for (int i = 0; i < logits.length; i++) {
      out[i] = logits[i] - log;
    }
    return out;
  }

  /** The indices of the {@code n} largest values, largest first (ties: lower index first). */
  public static int[] topIndices(float[] v, int n) {
    float kth = largest(v, n)[n - 1];
    int[] out = new int[n];
    int found = 0;
    for (int i = 0; i < v.length && found < n; i++) {
      if (v[i] > kth) {
        out[found++] = i;
      }
    }
    for (int i = 0; i < v.length && found < n; i++) {
      if (v[i] == kth) {
        out[found++] = i;
      }
    }
    Integer[] boxed = Arrays.stream(out).boxed().toArray(Integer[]::new);
    Arrays.sort(boxed, (a, b) -> v[a] != v[b] ? Float.compare(v[b], v[a]) : Integer.compare(a, b));
    return Arrays.stream(boxed).mapToInt(Integer::intValue).toArray();
  }

  // the n largest values of v, largest first (a min-heap of n)
  private static float[] largest(float[] v, int n) {
    float[] heap = new float[n];
    int size = 0;
    for (float x : v) {
      if (size < n) {
        heap[size] = x;
        siftUp(heap, size++);
      } else if (x > heap[0]) {
        heap[0] = x;
        siftDown(heap, n);
      }
    }
    float[] sorted = Arrays.copyOf(heap, size);
    Arrays.sort(sorted);
    for (int i = 0; i < size / 2; i++) {
      float t = sorted[i];
      sorted[i] = sorted[size - 1 - i];
      sorted[size - 1 - i] = t;
    }
    return sorted;
  }

  private static void siftUp(float[] h, int i) {
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
      float t = h[i];
      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
      i = (i - 1) / 2;
    }
  }

  private static void siftDown(float[] h, int size) {
    int i = 0;
    while (true) {
      int l = 2 * i + 1;
      int r = l + 1;
      int m = i;
      if (l < size && h[l] < h[m]) {
        m = l;
      }
      if (r < size && h[r] < h[m]) {
        m = r;
      }
      if (m == i) {
        return;
      }
      float t = h[i];
      h[i] = h[m];
      h[m] = t;
      i = m;
    }
  }

  // the top-p floor among the logits of s at least floor: the last kept logit of the sorted ones.
  // Only the largest few are sorted unless their probabilities sum to at most p.
  private double topPFloor(float[] s, double floor) {
    double max = Double.NEGATIVE_INFINITY;
    for (float x : s) {
      max = Math.max(max, x);
    }
    double sum = 0;
    int allowed = 0;
    for (float x : s) {
      if (x >= floor) {
        sum += Math.exp(x - max);
        allowed++;
      }
    }
    for (int n = Math.min(FIRST_CANDIDATES, allowed); ; n = Math.min(4 * n, allowed)) {
      float[] top = largest(s, n);
      double cumulative = 0;
      for (int i = 0; i < n; i++) {
        cumulative += Math.exp(top[i] - max) / sum;
        if (cumulative > topP) {
          return top[Math.max(i - 1, 0)];
        }
      }
      if (n == allowed) {
        return top[n - 1];
      }
    }
  }

  // a categorical draw over the logits at least floor
  private static int draw(float[] s, double floor, SplittableRandom rng) {
    double max = Double.NEGATIVE_INFINITY;
    for (float x : s) {
      max = Math.max(max, x);
    }
    double cut = Math.max(floor, max + NEGLIGIBLE);
    double sum = 0;
    for (float x : s) {
      if (x >= cut) {
        sum += Math.exp(x - max);
      }
    }
    double u = rng.nextDouble() * sum;
    int last = -1;
    for (int i = 0; i < s.length; i++) {
      if (s[i] >= cut) {
        u -= Math.exp(s[i] - max);
        last = i;
        if (u < 0) {
          return i;
        }
      }
    }
    return last; // rounding left u a hair above 0
  }
}
