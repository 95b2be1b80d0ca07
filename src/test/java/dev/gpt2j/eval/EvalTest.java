package dev.gpt2j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.tokenizer.CharTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HellaSwag, LAMBADA and text perplexity on a tiny character model, held example by example against
 * the float64 reference model: every loss to 1e-5 relative, every prediction and accuracy exactly;
 * batched runs against unbatched ones, bfloat16 against float32.
 */
class EvalTest {
  static final String ALPHABET = "abcdefgh ,.";
  static final CharTokenizer CHARS = CharTokenizer.of(ALPHABET);
  static final HParams HP = new HParams(CHARS.size(), 24, 16, 2, 2);

  @TempDir static Path tmp;
  static Path model;
  static ReferenceGpt2 reference;

  @BeforeAll
  static void writeModel() {
    model = tmp.resolve("model");
    Map<String, float[]> weights = TinyModels.random(HP, 11);
    TinyModels.write(model, HP, weights, CHARS);
    reference = new ReferenceGpt2(HP, weights);
  }

  static String words(Random r, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(i == 0 ? "" : " ");
      int len = 1 + r.nextInt(4);
      for (int j = 0; j < len; j++) {
        sb.append("abcdefgh".charAt(r.nextInt(8)));
      }
    }
    return sb.toString();
  }

  // n characters of letters and inner spaces: a character model's n tokens
  static String chars(Random r, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      boolean edge = i == 0 || i == n - 1 || sb.charAt(i - 1) == ' ';
      sb.append(!edge && r.nextInt(4) == 0 ? ' ' : "abcdefgh".charAt(r.nextInt(8)));
    }
    return sb.toString();
  }

  // log p(row[i+1] | row[..i]) under the float64 reference
  static double[] referenceLogprobs(int[] row) {
    double[][] logits = reference.logits(row);
    double[] out = new double[row.length - 1];
    for (int i = 0; i + 1 < row.length; i++) {
      out[i] = logits[i][row[i + 1]] - logSumExp(logits[i]);
    }
    return out;
  }

  static int argmax(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  static double logSumExp(double[] v) {
    double max = Arrays.stream(v).max().orElseThrow();
    return max + Math.log(Arrays.stream(v).map(x -> Math.exp(x - max)).sum());
  }

  static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static void assertRelative(double expected, double actual, String what) {
    assertEquals(expected, actual, 1e-5 * Math.max(1, Math.abs(expected)), what);
  }

  static Report run(EvalTask task, Path data, int batch, DType dtype, int stride) {
    Evaluation e = Evaluation.read(task, data, "--data", CHARS, HP.nCtx(), 0, stride);
    try (Gpt2Model m = Gpt2Model.load(model, dtype)) {
      return e.run(m.continuationScorer(), batch, (done, soFar) -> {});
    }
  }

  @Test
  void hellaswagAgreesWithTheReferenceOnEveryEndingBatchedOrNot() throws Exception {
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    // contexts of a few lengths, so that a batch holds several (a batch shares a prefix length);
    // the last is longer than n_ctx: its start is cut so the longest ending fits
    int[] contextLengths = {8, 8, 8, 8, 13, 13, 40};
    int n = contextLengths.length;
    for (int i = 0; i < n; i++) {
      String ctx = chars(r, contextLengths[i]);
      String endings = "";
      for (int k = 0; k < 4; k++) {
        endings += (k == 0 ? "" : ",") + "\"" + words(r, 1 + r.nextInt(3)) + "\"";
      }
      lines.add(
          String.format(
              "{\"ctx\": \"%s\", \"endings\": [%s], \"label\": %d}", ctx, endings, r.nextInt(4)));
    }
    Path data = tmp.resolve("hellaswag.jsonl");
    Files.writeString(data, String.join("\n", lines) + "\n");

    Report one = run(EvalTask.HELLASWAG, data, 1, DType.FLOAT32, 12);
    Report three = run(EvalTask.HELLASWAG, data, 3, DType.FLOAT32, 12);
    long acc = 0;
    long accNorm = 0;
    for (int i = 0; i < n; i++) {
      var row = new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines.get(i));
      int[] ctx = CHARS.encode(row.get("ctx").asText());
      int[][] endings = new int[4][];
      for (int k = 0; k < 4; k++) {
        endings[k] = CHARS.encode(" " + row.get("endings").get(k).asText());
      }
      int longest = Arrays.stream(endings).mapToInt(e -> e.length).max().orElseThrow();
      int[] kept =
          Arrays.copyOfRange(ctx, Math.max(0, ctx.length - (HP.nCtx() - longest)), ctx.length);
      double[] sum = new double[4];
      double[] mean = new double[4];
      for (int k = 0; k < 4; k++) {
        double[] lp = referenceLogprobs(concat(kept, endings[k]));
        for (int j = 0; j < endings[k].length; j++) {
          sum[k] -= lp[kept.length - 1 + j];
        }
        mean[k] = sum[k] / endings[k].length;
      }
      Map<String, Object> got = one.perExample().get(i);
      Map<String, Object> batched = three.perExample().get(i);
      for (int k = 0; k < 4; k++) {
        assertRelative(sum[k], ((double[]) got.get("sum_losses"))[k], "example " + i);
        assertRelative(sum[k], ((double[]) batched.get("sum_losses"))[k], "batched " + i);
      }
      int pred = argmax(Arrays.stream(sum).map(x -> -x).toArray());
      int predNorm = argmax(Arrays.stream(mean).map(x -> -x).toArray());
      assertEquals(pred, got.get("pred"), "example " + i);
      assertEquals(predNorm, got.get("pred_norm"), "example " + i);
      assertEquals(pred, batched.get("pred"));
      int label = row.get("label").asInt();
      acc += pred == label ? 1 : 0;
      accNorm += predNorm == label ? 1 : 0;
    }
    assertEquals(acc / (double) n, one.metric("acc").value());
    assertEquals(accNorm / (double) n, one.metric("acc_norm").value());
    assertEquals(accNorm / (double) n, three.metric("acc_norm").value());
  }

  @Test
  void lambadaAccuracyAndPerplexityAgreeWithTheReference() throws Exception {
    Random r = new Random(5);
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      texts.add(chars(r, i < 6 ? 10 : 14) + " " + words(r, 1));
    }
    Path data = tmp.resolve("lambada.jsonl");
    StringBuilder file = new StringBuilder();
    texts.forEach(t -> file.append("{\"text\": \"").append(t).append("\"}\n"));
    Files.writeString(data, file.toString());

    Report report = run(EvalTask.LAMBADA, data, 4, DType.FLOAT32, 12);
    int correct = 0;
    double lossSum = 0;
    for (int i = 0; i < texts.size(); i++) {
      String t = texts.get(i);
      int[] ctx = CHARS.encode(t.substring(0, t.lastIndexOf(' ')));
      int[] target = CHARS.encode(t.substring(t.lastIndexOf(' ')));
      int[] row = concat(ctx, target);
      double[][] logits = reference.logits(row);
      double loss = 0;
      boolean greedy = true;
      for (int j = 0; j < target.length; j++) {
        double[] at = logits[ctx.length - 1 + j];
        loss -= at[target[j]] - logSumExp(at);
        greedy &= argmax(at) == target[j];
      }
      Map<String, Object> got = report.perExample().get(i);
      assertRelative(loss, (double) got.get("loss"), "example " + i);
      assertEquals(greedy, got.get("correct"), "example " + i);
      assertEquals(target.length, got.get("n_tokens"));
      correct += greedy ? 1 : 0;
      lossSum += loss;
    }
    assertEquals(correct / (double) texts.size(), report.metric("acc").value());
    assertRelative(Math.exp(lossSum / texts.size()), report.metric("ppl").value(), "ppl");
  }

  @Test
  void textPerplexityScoresEveryTokenOnceWithTheStridesContext() throws Exception {
    String text = words(new Random(8), 40) + ".";
    Path data = tmp.resolve("text.txt");
    Files.writeString(data, text);
    int stride = 10;
    Report batched = run(EvalTask.TEXT, data, 3, DType.FLOAT32, stride);
    Report single = run(EvalTask.TEXT, data, 1, DType.FLOAT32, stride);
    // independently: token t is predicted in the window that starts at the largest multiple of
    // the stride with t - begin < n_ctx, i.e. with at least n_ctx - stride tokens before it
    int[] ids = CHARS.encode(text);
    double total = 0;
    for (int t = 1; t < ids.length; t++) {
      int begin = t < HP.nCtx() ? 0 : ((t - HP.nCtx()) / stride + 1) * stride;
      assertTrue(t - begin >= Math.min(t, HP.nCtx() - stride) && t - begin < HP.nCtx());
      double[] lp = referenceLogprobs(Arrays.copyOfRange(ids, begin, t + 1));
      total -= lp[lp.length - 1];
    }
    int n = ids.length - 1;
    long words = text.trim().split("\\s+").length;
    assertRelative(Math.exp(total / n), batched.metric("ppl").value(), "ppl");
    assertRelative(Math.exp(total / words), batched.metric("word_ppl").value(), "word ppl");
    assertRelative(
        total / Math.log(2) / text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length,
        batched.metric("bits_per_byte").value(),
        "bits per byte");
    assertEquals((long) n, batched.extra().get("tokens"));
    assertEquals(words, batched.extra().get("words"));
    assertRelative(batched.metric("ppl").value(), single.metric("ppl").value(), "unbatched");
    assertTrue(batched.metric("ppl").lo() < batched.metric("ppl").value());
  }

  @Test
  void bfloat16StaysWithinItsBoundOfFloat32() throws Exception {
    String text = words(new Random(9), 30);
    Path data = tmp.resolve("bf16.txt");
    Files.writeString(data, text);
    double fp32 = run(EvalTask.TEXT, data, 2, DType.FLOAT32, 12).metric("ppl").value();
    double bf16 = run(EvalTask.TEXT, data, 2, DType.BFLOAT16, 12).metric("ppl").value();
    System.out.printf("text ppl float32 %.6f, bfloat16 %.6f%n", fp32, bf16);
    // README, "Evaluation": bfloat16 weights move the loss per token by under 1%
    assertEquals(0, Math.log(bf16 / fp32), 0.01);
  }

  @Test
  void wilsonsIntervalMatchesItsKnownValue() {
    Metric m = Metric.accuracy("acc", 5, 10);
    assertArrayEquals(
        new double[] {0.5, 0.2366, 0.7634}, new double[] {m.value(), m.lo(), m.hi()}, 1e-4);
  }
}
