package dev.gpt2j.eval;

import dev.gpt2j.tokenizer.Tokenizer;
import java.util.Arrays;

/** What the multiple-choice and cloze tasks share: a context cut to fit, and summed losses. */
final class Rows {
  private Rows() {}

  /** {@code text} tokenized; a character a character model lacks is refused naming the row. */
  static int[] encode(JsonLines.Row row, String field, Tokenizer tokenizer, String text) {
    try {
      return tokenizer.encode(text);
    } catch (IllegalArgumentException e) {
      throw row.error(field, e.getMessage());
    }
  }

  /**
   * The end of {@code context} that fits n_ctx before the longest continuation (the continuation is
   * never cut). A continuation that leaves no room for a token of context, or an empty context or
   * continuation, is refused naming the row.
   */
  static int[] fitContext(
      JsonLines.Row row,
      String contextField,
      String continuationField,
      int[] context,
      int[][] continuations,
      int nCtx) {
    int longest = Arrays.stream(continuations).mapToInt(c -> c.length).max().orElse(0);
    if (context.length == 0) {
      throw row.error(contextField, "empty: nothing to predict the first token from");
    }
    if (Arrays.stream(continuations).anyMatch(c -> c.length == 0)) {
      throw row.error(continuationField, "no tokens to score");
    }
    if (longest >= nCtx) {
      throw row.error(
          continuationField, longest + " tokens leave no room for context in n_ctx=" + nCtx);
    }
    int keep = Math.min(context.length, nCtx - longest);
    return Arrays.copyOfRange(context, context.length - keep, context.length);
  }

  /** A continuation's summed log-probability. */
  static double sum(float[] logprobs) {
    double s = 0;
    for (float lp : logprobs) {
      s += lp;
    }
    return s;
  }
}
