package dev.gpt2j.eval;

import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.sampling.Scorer;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Perplexity of a text with a sliding window, as {@code score}: windows of n_ctx tokens advancing
 * by {@code stride}, each token scored once with at least n_ctx - stride tokens of context, the
 * first token not scored (nothing is prepended). Gives the token perplexity, the word perplexity
 * (exp of the total loss over the whitespace-separated words) and bits per UTF-8 byte. An example
 * is a window.
 */
final class TextPerplexity extends Task<TextPerplexity.Window, TextPerplexity.Scored> {

  record Window(int index, int begin, int end, int firstTarget) {}

  record Scored(int index, int begin, int end, double loss, int nTokens) {}

  private final int[] tokens;
  private final long words;
  private final long bytes;
  private final long targets;

  private TextPerplexity(
      String name, int[] tokens, List<Window> windows, long words, long bytes, long targets) {
    super(name, "ppl", windows);
    this.tokens = tokens;
    this.words = words;
    this.bytes = bytes;
    this.targets = targets;
  }

  /**
   * The first {@code limit} windows (all with 0) of {@code text}; errors begin with {@code where},
   * which names the file.
   */
  static TextPerplexity of(
      String name,
      String where,
      String text,
      Tokenizer tokenizer,
      int nCtx,
      int stride,
      int limit) {
    int[] tokens;
    try {
      tokens = tokenizer.encode(text);
    } catch (IllegalArgumentException e) { // a character a character model lacks
      throw new EvalDataException(where + ": " + e.getMessage());
    }
    if (tokens.length < 2) {
      throw new EvalDataException(where + ": the text has " + tokens.length + " token(s), need 2");
    }
    List<Scorer.Window> all = Scorer.windows(tokens.length, nCtx, stride);
    List<Scorer.Window> kept = limit == 0 ? all : all.subList(0, Math.min(limit, all.size()));
    List<Window> windows =
        IntStream.range(0, kept.size())
            .mapToObj(
                i ->
                    new Window(
                        i, kept.get(i).begin(), kept.get(i).end(), kept.get(i).firstTarget()))
            .toList();
    int covered = kept.get(kept.size() - 1).end();
    String coveredText =
        covered == tokens.length
            ? text
            : new String(
                tokenizer.decodeBytes(Arrays.copyOf(tokens, covered)), StandardCharsets.UTF_8);
    long words = Arrays.stream(coveredText.split("\\s+")).filter(w -> !w.isEmpty()).count();
    long bytes = coveredText.getBytes(StandardCharsets.UTF_8).length;
    return new TextPerplexity(name, tokens, windows, words, bytes, covered - 1);
  }

  /** The counts the figures are taken over. */
  Map<String, Object> counts() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("tokens", targets);
    m.put("words", words);
    m.put("bytes", bytes);
    return m;
  }

  @Override
  String unit() {
    return "windows";
  }

  // a window's context is its prefix, its targets the one continuation
  @Override
  int[] prefix(Window w) {
    return Arrays.copyOfRange(tokens, w.begin(), w.firstTarget());
  }

  @Override
  int[][] continuations(Window w) {
    return new int[][] {Arrays.copyOfRange(tokens, w.firstTarget(), w.end())};
  }

  @Override
  Scored result(Window w, ContinuationScorer.Scores scores, int first) {
    double loss = -Rows.sum(scores.logprobs()[first]);
    return new Scored(w.index(), w.begin(), w.end(), loss, w.end() - w.firstTarget());
  }

  /**
   * The loss per token is a ratio of sums over windows; its standard error is the ratio
   * estimator's, over windows (tokens of one window are not independent, windows nearly are). While
   * it runs, words and bytes are prorated by the share of tokens scored.
   */
  @Override
  List<Metric> metrics(List<Scored> results) {
    int m = results.size();
    double loss = results.stream().mapToDouble(Scored::loss).sum();
    long n = results.stream().mapToLong(Scored::nTokens).sum();
    double perToken = loss / n;
    double se = Double.NaN;
    if (m > 1) {
      double meanTokens = n / (double) m;
      double ss =
          results.stream().mapToDouble(r -> Math.pow(r.loss() - perToken * r.nTokens(), 2)).sum();
      se = Math.sqrt(ss / ((double) m * (m - 1))) / meanTokens;
    }
    double share = n / (double) targets;
    double tokensPerWord = n / (words * share);
    double tokensPerByte = n / (bytes * share);
    return List.of(
        Metric.ofMean("ppl", perToken, se, Math::exp),
        Metric.ofMean("word_ppl", perToken, se, x -> Math.exp(x * tokensPerWord)),
        Metric.ofMean("bits_per_byte", perToken, se, x -> x * tokensPerByte / Math.log(2)));
  }

  @Override
  Map<String, Object> json(Scored r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("index", r.index());
    m.put("begin", r.begin());
    m.put("end", r.end());
    m.put("loss", r.loss());
    m.put("n_tokens", r.nTokens());
    return m;
  }
}
