package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.Gpt2Model;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitScoreCommandTest {
  @TempDir Path tmp;

  @Test
  void initWritesAModelThatScoreReads() throws Exception {
    Path dir = tmp.resolve("m");
    CliRunner.Outcome init =
        CliRunner.run(
            "init",
            "--model-dir",
            dir.toString(),
            "--n-layer",
            "2",
            "--n-head",
            "2",
            "--n-embd",
            "16",
            "--n-ctx",
            "32",
            "--seed",
            "4");
    assertEquals(0, init.code(), init.err());
    // 50257*16 + 32*16 + 2 * (2*2*16 + 16*48+48 + 16*16+16 + 16*64+64 + 64*16+16) + 2*16
    assertTrue(init.out().startsWith("wrote " + dir + ": 811,216 parameters"), init.out());
    CliRunner.Outcome score =
        CliRunner.run(
            "score",
            "--model-dir",
            dir.toString(),
            "--text",
            "Not all heroes wear capes.",
            "--json");
    assertEquals(0, score.code(), score.err());
    JsonNode json = new ObjectMapper().readTree(score.out());
    assertEquals("[3673,477,10281,5806,1451,274,13]", json.get("tokens").toString());
    assertEquals(6, json.get("logprobs").size());
  }

  @Test
  void scoreMatchesFloat64ReferenceAndItsOwnTotals() throws Exception {
    Path dir = tmp.resolve("m");
    Map<String, float[]> w = TinyModels.writeRandom(dir, TinyModels.TINY, 3);
    int[] tokens = {5, 17, 3, 96, 40, 2, 2, 71};
    CliRunner.Outcome score =
        CliRunner.run(
            "score", "--model-dir", dir.toString(), "--tokens", "5,17,3,96,40,2,2,71", "--json");
    assertEquals(0, score.code(), score.err());
    JsonNode json = new ObjectMapper().readTree(score.out());
    double[][] logits = new ReferenceGpt2(TinyModels.TINY, w).logits(tokens);
    double total = 0;
    for (int i = 0; i + 1 < tokens.length; i++) {
      double expected = logSoftmax(logits[i])[tokens[i + 1]];
      assertEquals(expected, json.get("logprobs").get(i).asDouble(), 1e-4, "position " + i);
      total += json.get("logprobs").get(i).asDouble();
    }
    assertEquals(total, json.get("total").asDouble(), 1e-9);
    assertEquals(total / 7, json.get("mean").asDouble(), 1e-9);
    assertEquals(Math.exp(-total / 7), json.get("perplexity").asDouble(), 1e-6);
  }

  @Test
  void textLongerThanTheContextIsScoredInOverlappingWindows() {
    Path dir = tmp.resolve("m");
    Map<String, float[]> w = TinyModels.writeRandom(dir, TinyModels.TINY, 9);
    int nCtx = TinyModels.TINY.nCtx();
    int[] tokens = new java.util.Random(2).ints(40, 0, TinyModels.TINY.nVocab()).toArray();
    ReferenceGpt2 ref = new ReferenceGpt2(TinyModels.TINY, w);
    try (Gpt2Model model = Gpt2Model.load(dir)) {
      double[] lp = model.score(tokens);
      assertEquals(39, lp.length);
      // window 1 covers tokens [0, 16); later targets t see tokens [t-8-(t%8)..t) per the n_ctx/2
      // stride
      for (int target = 1; target < tokens.length; target++) {
        int begin = target < nCtx ? 0 : ((target - nCtx) / (nCtx / 2) + 1) * (nCtx / 2);
        int[] window = java.util.Arrays.copyOfRange(tokens, begin, target + 1);
        double[][] logits = ref.logits(window);
        double expected = logSoftmax(logits[window.length - 2])[tokens[target]];
        assertEquals(
            expected, lp[target - 1], 1e-4, "target " + target + " (window from " + begin + ")");
      }
    }
  }

  private static double[] logSoftmax(double[] x) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : x) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (double v : x) {
      sum += Math.exp(v - max);
    }
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = x[i] - max - Math.log(sum);
    }
    return y;
  }

  @Test
  void badInputsGiveOneLineAndExitCode2() throws Exception {
    Path dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, TinyModels.TINY, 1);
    CliRunner.assertRefused("--model-dir is required (see --help)", "init", "--like", "124M");
    CliRunner.assertRefused(
        "unknown model size '7B', expected one of 124M, 355M, 774M, 1558M",
        "init",
        "--model-dir",
        tmp.resolve("x").toString(),
        "--like",
        "7B");
    CliRunner.assertRefused(
        "give --like SIZE or all of --n-layer, --n-head, --n-embd, --n-ctx (see --help)",
        "init",
        "--model-dir",
        tmp.resolve("x").toString(),
        "--n-layer",
        "2");
    CliRunner.assertRefused(
        "n_embd (10) must be a multiple of n_head (3)",
        "init",
        "--model-dir",
        tmp.resolve("x").toString(),
        "--n-layer",
        "1",
        "--n-head",
        "3",
        "--n-embd",
        "10",
        "--n-ctx",
        "8");
    CliRunner.assertRefused(
        "--n-layer expects an integer, got 'two' (see --help)",
        "init",
        "--model-dir",
        tmp.resolve("x").toString(),
        "--n-layer",
        "two",
        "--n-head",
        "3",
        "--n-embd",
        "12",
        "--n-ctx",
        "8");
    CliRunner.assertRefused(
        dir
            + ": already exists and is not empty; choose a new directory (nothing was "
            + "overwritten)",
        "init",
        "--model-dir",
        dir.toString(),
        "--like",
        "124M");
    CliRunner.assertRefused(
        "give exactly one of --text, --file, --tokens (see --help)",
        "score",
        "--model-dir",
        dir.toString());
    CliRunner.assertRefused(
        "--tokens: id 97 is outside the model's vocabulary [0, 97) (see --help)",
        "score",
        "--model-dir",
        dir.toString(),
        "--tokens",
        "1,97");
    CliRunner.assertRefused(
        "need at least 2 tokens to score, the input has 1 (see --help)",
        "score",
        "--model-dir",
        dir.toString(),
        "--tokens",
        "1");
    CliRunner.assertRefused(
        "--file: " + tmp.resolve("none.txt") + " not found",
        "score",
        "--model-dir",
        dir.toString(),
        "--file",
        tmp.resolve("none.txt").toString());
    CliRunner.assertRefused(
        tmp.resolve("nodir") + ": model directory not found",
        "score",
        "--model-dir",
        tmp.resolve("nodir").toString(),
        "--text",
        "a b");
    assertTrue(Files.notExists(tmp.resolve("x")));
  }

  @Test
  void tokenizerRoundTripThroughScoreText() throws Exception {
    Path dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, new dev.gpt2j.model.HParams(50257, 8, 8, 2, 1), 1);
    String text = "Grüße 世界 🙂";
    CliRunner.Outcome score =
        CliRunner.run("score", "--model-dir", dir.toString(), "--text", text, "--json");
    JsonNode json = new ObjectMapper().readTree(score.out());
    int[] ids = new int[json.get("tokens").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = json.get("tokens").get(i).asInt();
    }
    assertEquals(text, Gpt2Tokenizer.decode(ids));
  }
}
