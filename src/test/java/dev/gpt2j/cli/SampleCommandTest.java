package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SampleCommandTest {
  static Path model;

  @BeforeAll
  static void write(@TempDir Path tmp) {
    model = tmp.resolve("m");
    TinyModels.writeRandom(model, new HParams(50257, 32, 16, 2, 2), 3);
  }

  private static CliRunner.Outcome sample(String... extra) {
    String[] argv = new String[extra.length + 3];
    argv[0] = "sample";
    argv[1] = "--model-dir";
    argv[2] = model.toString();
    System.arraycopy(extra, 0, argv, 3, extra.length);
    return CliRunner.run(argv);
  }

  // each line its own row, batched with lines of other lengths: the same tokens as each alone
  @Test
  void perLineGivesEachLineItsOwnRowAsIfSampledAlone(@TempDir Path tmp) throws Exception {
    Path prompts = tmp.resolve("prompts.txt");
    java.nio.file.Files.writeString(prompts, "Hello world\n\nThe quick brown fox jumps\r\nA\n");
    CliRunner.Outcome o =
        sample(
            "--prompt-file",
            prompts.toString(),
            "--per-line",
            "--greedy",
            "--length",
            "6",
            "--batch-size",
            "3",
            "--json");
    assertEquals(0, o.code(), o.err());
    String[] lines = o.out().split("\n");
    assertEquals(3, lines.length, o.out());
    String[] texts = {"Hello world", "The quick brown fox jumps", "A"};
    int[] numbers = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
      JsonNode json = new ObjectMapper().readTree(lines[i]);
      assertEquals(numbers[i], json.get("line").asInt());
      CliRunner.Outcome alone = sample("--prompt", texts[i], "--greedy", "--length", "6", "--json");
      assertEquals(0, alone.code(), alone.err());
      assertEquals(
          new ObjectMapper().readTree(alone.out()).get("tokens"), json.get("tokens"), texts[i]);
    }
    CliRunner.assertRefused(
        "--per-line makes one sample per line: it takes no --nsamples (see --help)",
        "sample",
        "--model-dir",
        model.toString(),
        "--prompt-file",
        prompts.toString(),
        "--per-line",
        "--nsamples",
        "2");
  }

  @Test
  void jsonLinesCarryPromptTokensGeneratedTokensAndTheirText() throws Exception {
    CliRunner.Outcome o =
        sample(
            "--prompt",
            "Hello world",
            "--length",
            "7",
            "--seed",
            "1",
            "--nsamples",
            "4",
            "--batch-size",
            "2",
            "--json");
    assertEquals(0, o.code(), o.err());
    String[] lines = o.out().split("\n");
    assertEquals(4, lines.length);
    for (String line : lines) {
      JsonNode json = new ObjectMapper().readTree(line);
      assertEquals("[15496,995]", json.get("prompt_tokens").toString());
      assertEquals(7, json.get("tokens").size());
      int[] ids = new int[7];
      for (int i = 0; i < 7; i++) {
        ids[i] = json.get("tokens").get(i).asInt();
      }
      assertEquals(Gpt2Tokenizer.decode(ids), json.get("text").asText());
    }
  }

  @Test
  void streamedTextIsTheSampleTextAndSeedsReproduce() throws Exception {
    CliRunner.Outcome streamed = sample("--prompt", "Hello world", "--length", "9", "--seed", "5");
    CliRunner.Outcome json =
        sample("--prompt", "Hello world", "--length", "9", "--seed", "5", "--json");
    String text = new ObjectMapper().readTree(json.out()).get("text").asText();
    String rule = "=".repeat(40);
    assertEquals(
        rule + " SAMPLE 1 " + rule + "\n" + text + "\n" + rule + rule + "\n", streamed.out());
    assertEquals(
        streamed.out(), sample("--prompt", "Hello world", "--length", "9", "--seed", "5").out());
  }

  @Test
  void unconditionalStartsFromEndOfText() throws Exception {
    CliRunner.Outcome o = sample("--unconditional", "--length", "3", "--seed", "2", "--json");
    assertEquals(0, o.code(), o.err());
    assertEquals("[50256]", new ObjectMapper().readTree(o.out()).get("prompt_tokens").toString());
  }

  @Test
  void badValuesGiveOneLineAndExitCode2() {
    assertBad("--top-k must be >= 0 (0 = off), got -1", "--prompt", "x", "--top-k", "-1");
    assertBad("--top-p must be in (0, 1] (1 = off), got 1.5", "--prompt", "x", "--top-p", "1.5");
    assertBad("--top-p must be in (0, 1] (1 = off), got 0.0", "--prompt", "x", "--top-p", "0");
    assertBad(
        "--temperature must be > 0 (or use --greedy), got 0.0",
        "--prompt",
        "x",
        "--temperature",
        "0");
    assertBad("--temperature expects a number, got 'hot'", "--prompt", "x", "--temperature", "hot");
    assertBad(
        "--nsamples (3) must be a multiple of --batch-size (2), as in openai/gpt-2",
        "--prompt",
        "x",
        "--nsamples",
        "3",
        "--batch-size",
        "2");
    assertBad(
        "the prompt is empty (give --prompt, --prompt-file, standard input, or --unconditional)",
        "--prompt",
        "");
    CliRunner.Outcome tooLong = sample("--prompt", "Hello world", "--length", "31", "--seed", "1");
    assertEquals(2, tooLong.code());
    assertEquals(
        "gpt2 sample: prompt (2 tokens) + --length (31) exceeds the model's context of 32 "
            + "tokens; shorten them or pass --sliding-window\n",
        tooLong.err());
    Path small = model.resolveSibling("small");
    if (!java.nio.file.Files.exists(small)) {
      TinyModels.writeRandom(small, new HParams(97, 16, 8, 2, 1), 1);
    }
    CliRunner.Outcome vocab =
        CliRunner.run("sample", "--model-dir", small.toString(), "--prompt", "Hello");
    assertEquals(2, vocab.code());
    assertEquals(
        "gpt2 sample: prompt token 15496 is outside the model's vocabulary [0, 97)\n", vocab.err());
    CliRunner.Outcome missing =
        CliRunner.run("sample", "--model-dir", "/no/such/dir", "--prompt", "x");
    assertEquals(2, missing.code());
    assertEquals("gpt2 sample: /no/such/dir: model directory not found\n", missing.err());
  }

  @Test
  void greedyNeedsNoTemperatureAndSlidingWindowGoesPastTheContext() throws Exception {
    CliRunner.Outcome o =
        sample(
            "--prompt",
            "Hello world",
            "--length",
            "40",
            "--greedy",
            "--temperature",
            "0",
            "--sliding-window",
            "--json");
    assertEquals(0, o.code(), o.err());
    com.fasterxml.jackson.databind.JsonNode json = new ObjectMapper().readTree(o.out());
    int[] tokens = new int[json.get("tokens").size()];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = json.get("tokens").get(i).asInt();
    }
    assertEquals(40, tokens.length, "the window slid past n_ctx = 32");
    assertEquals(dev.gpt2j.tokenizer.Gpt2Tokenizer.decode(tokens), json.get("text").asText());
    // until the window slides, each token is the argmax of the whole sequence's logits
    java.util.List<Integer> seq = new java.util.ArrayList<>(java.util.List.of(15496, 995));
    try (dev.gpt2j.Gpt2Model m = dev.gpt2j.Gpt2Model.load(model)) {
      for (int i = 0; i < 30; i++) {
        float[][] logits = m.logits(new int[][] {seq.stream().mapToInt(t -> t).toArray()})[0];
        float[] last = logits[seq.size() - 1];
        int argmax = 0;
        for (int v = 1; v < last.length; v++) {
          argmax = last[v] > last[argmax] ? v : argmax;
        }
        assertEquals(argmax, tokens[i], "token " + i);
        seq.add(argmax);
      }
    }
  }

  private static void assertBad(String message, String... args) {
    CliRunner.Outcome o = sample(args);
    assertEquals(2, o.code(), o.err());
    assertEquals(
        "gpt2 sample: " + message + " (see --help)\n", o.err().replaceAll("\\(seed \\d+\\)\n", ""));
    assertEquals("", o.out());
  }

  @Test
  void interactiveModeSamplesAfterEachPromptLine() throws Exception {
    CliRunner.Outcome o =
        CliRunner.runWithInput(
            "Hello world\n\nGood night\n",
            "sample",
            "--model-dir",
            model.toString(),
            "--interactive",
            "--length",
            "5",
            "--seed",
            "3",
            "--json");
    assertEquals(0, o.code(), o.err());
    String[] lines = o.out().split("\n");
    assertEquals(2, lines.length, o.out());
    assertEquals(
        "[15496,995]", new ObjectMapper().readTree(lines[0]).get("prompt_tokens").toString());
    assertEquals(
        "[10248,1755]", new ObjectMapper().readTree(lines[1]).get("prompt_tokens").toString());
    assertTrue(o.err().contains("Prompt should not be empty!"), o.err());
    assertEquals(
        5, o.err().split("Model prompt >>> ", -1).length, o.err()); // 4 prompts: 3 lines, then EOF
  }

  @Test
  void thePromptCanComeFromStandardInput() throws Exception {
    CliRunner.Outcome o =
        CliRunner.runWithInput(
            "Hello world",
            "sample",
            "--model-dir",
            model.toString(),
            "--length",
            "3",
            "--seed",
            "3",
            "--json");
    assertEquals(0, o.code(), o.err());
    assertEquals(
        "[15496,995]", new ObjectMapper().readTree(o.out()).get("prompt_tokens").toString());
  }
}
