package dev.gpt2j.eval;

import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * HellaSwag in llm.c's completion style: each of the four endings is scored by the model's loss on
 * the ending's tokens after the context; {@code acc} picks the least summed loss, {@code acc_norm}
 * the least mean loss per ending token (EleutherAI's harness divides by characters instead). The
 * context and {@code " " + ending} are encoded apart and their tokens joined.
 */
final class HellaSwag extends Task<HellaSwag.Example, HellaSwag.Scored> {
  static final int ENDINGS = 4;

  /** One row of the file, tokenized; {@code context} already cut to fit n_ctx. */
  record Example(int index, int[] context, int[][] endings, int label) {}

  /** What the model made of one example; ties go to the first ending. */
  record Scored(
      int index, int label, int pred, int predNorm, double[] sumLosses, double[] meanLosses) {}

  HellaSwag(List<Example> examples) {
    super("hellaswag", "acc_norm", examples);
  }

  /** The first {@code limit} rows of {@code file} (all with 0), refused row by row if malformed. */
  static HellaSwag read(Path file, String option, Tokenizer tokenizer, int nCtx, int limit) {
    List<Example> examples = new ArrayList<>();
    for (JsonLines.Row row : JsonLines.read(file, option, limit)) {
      String ctx = row.string("ctx");
      List<String> endings = row.strings("endings", ENDINGS);
      int label = row.index("label", ENDINGS);
      int[][] ending = new int[ENDINGS][];
      for (int i = 0; i < ENDINGS; i++) {
        ending[i] = Rows.encode(row, "endings", tokenizer, " " + endings.get(i));
      }
      int[] context = Rows.encode(row, "ctx", tokenizer, ctx);
      context = Rows.fitContext(row, "ctx", "endings", context, ending, nCtx);
      examples.add(new Example(examples.size(), context, ending, label));
    }
    return new HellaSwag(examples);
  }

  @Override
  int[] prefix(Example e) {
    return e.context();
  }

  @Override
  int[][] continuations(Example e) {
    return e.endings();
  }

  @Override
  Scored result(Example e, ContinuationScorer.Scores scores, int first) {
    double[] sum = new double[ENDINGS];
    double[] mean = new double[ENDINGS];
    for (int i = 0; i < ENDINGS; i++) {
      sum[i] = -Rows.sum(scores.logprobs()[first + i]);
      mean[i] = sum[i] / e.endings()[i].length;
    }
    return new Scored(e.index(), e.label(), argmin(sum), argmin(mean), sum, mean);
  }

  // the first of equal values wins
  private static int argmin(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] < v[best]) {
        best = i;
      }
    }
    return best;
  }

  @Override
  List<Metric> metrics(List<Scored> results) {
    long acc = results.stream().filter(r -> r.pred() == r.label()).count();
    long accNorm = results.stream().filter(r -> r.predNorm() == r.label()).count();
    return List.of(
        Metric.accuracy("acc", acc, results.size()),
        Metric.accuracy("acc_norm", accNorm, results.size()));
  }

  @Override
  Map<String, Object> json(Scored r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("index", r.index());
    m.put("label", r.label());
    m.put("pred", r.pred());
    m.put("pred_norm", r.predNorm());
    m.put("sum_losses", r.sumLosses());
    m.put("mean_losses", r.meanLosses());
    return m;
  }
}
