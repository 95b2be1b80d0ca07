package dev.gpt2j.eval;

import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.TextFiles;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * A task's data read and tokenized, ready to run on any model with the same tokenizer and n_ctx:
 * {@code eval} reads it before it loads a model (a bad file costs no loading), {@code train} once
 * for a whole run.
 */
public final class Evaluation {
  private static final int TOKENS_PER_RUN = 4096;
  private final Task<?, ?> task;
  private final Map<String, Object> extra;
  private final Shape shape;

  private Evaluation(Task<?, ?> task, Map<String, Object> extra) {
    this.task = task;
    this.extra = extra;
    this.shape = shapeOf(task);
  }

  /**
   * Reads {@code data} as {@code kind}'s format: the first {@code limit} examples (0: all); text
   * tasks in windows advancing by {@code stride} tokens. Errors name the file, and {@code option}
   * when the user named the file with it ({@code --data}, {@code eval_task_data}).
   */
  public static Evaluation read(
      EvalTask kind,
      Path data,
      String option,
      Tokenizer tokenizer,
      int nCtx,
      int limit,
      int stride) {
    return switch (kind) {
      case HELLASWAG ->
          new Evaluation(HellaSwag.read(data, option, tokenizer, nCtx, limit), Map.of());
      case LAMBADA -> new Evaluation(Lambada.read(data, option, tokenizer, nCtx, limit), Map.of());
      case WIKITEXT, TEXT -> {
        TextPerplexity text =
            TextPerplexity.of(
                kind.label,
                option == null ? data.toString() : option + ": " + data,
                TextFiles.readUtf8(data, option),
                tokenizer,
                nCtx,
                stride,
                limit);
        yield new Evaluation(text, text.counts());
      }
    };
  }

  public String task() {
    return task.name();
  }

  /** The figure a training run logs (HellaSwag's acc_norm, LAMBADA's acc, a text's ppl). */
  public String headline() {
    return task.headline();
  }

  /**
   * Examples per run of the model when none is asked for: about {@code TOKENS_PER_RUN} tokens,
   * enough to keep the cores busy while the logits of a run stay well under a GiB at GPT-2's
   * vocabulary.
   */
  public int defaultBatch() {
    return batchOf(TOKENS_PER_RUN);
  }

  /** Examples per run so that a run puts about {@code tokens} tokens through (at least one). */
  public int batchOf(int tokens) {
    return Math.max(1, tokens / (rowsPerExample() * longestRow()));
  }

  public int examples() {
    return task.examples().size();
  }

  /** What an example is called: "examples", or "windows" of a text. */
  public String unit() {
    return task.unit();
  }

  /**
   * The continuations one example scores, and its longest prefix and continuation together: the
   * rows of a run and their length, for the memory plan.
   */
  public int rowsPerExample() {
    return shape.rows;
  }

  public int longestRow() {
    return shape.longest;
  }

  private record Shape(int rows, int longest) {}

  private static <E> Shape shapeOf(Task<E, ?> t) {
    int rows = 0;
    int longest = 0;
    for (E e : t.examples()) {
      int[][] c = t.continuations(e);
      rows = Math.max(rows, c.length);
      int longestContinuation = Arrays.stream(c).mapToInt(x -> x.length).max().orElse(0);
      longest = Math.max(longest, t.prefix(e).length + longestContinuation);
    }
    return new Shape(rows, longest);
  }

  /** Scores every example, {@code batch} examples per run of the model. */
  public Report run(ContinuationScorer scorer, int batch, Evaluator.Listener listener) {
    return Evaluator.run(task, scorer, batch, extra, listener);
  }
}
