package dev.gpt2j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.sampling.SampleOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Greedy continuations of OpenAI's real 124M weights against openai/gpt-2's own output. Runs when
 * checkpoints/124M holds the real model (make download MODEL=124M); skipped otherwise.
 */
class ParityTest {
  static final Path MODEL = Path.of(System.getProperty("gpt2.parity.model", "checkpoints/124M"));

  record Case(String prompt, int length, String expected) {
    @Override
    public String toString() {
      return prompt;
    }
  }

  static Stream<Case> cases() throws IOException {
    List<Case> cases = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    try (InputStream in =
        ParityTest.class.getResourceAsStream("/parity/openai-gpt2-124M-greedy.jsonl")) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.isBlank()) {
          JsonNode n = json.readTree(line);
          cases.add(
              new Case(
                  n.get("prompt").asText(), n.get("length").asInt(), n.get("expected").asText()));
        }
      }
    }
    return cases.stream();
  }

  @ParameterizedTest
  @MethodSource("cases")
  void greedyContinuationMatchesOpenAi(Case c) {
    Assumptions.assumeTrue(
        Files.isRegularFile(MODEL.resolve("checkpoint")),
        "skipped: "
            + MODEL.toAbsolutePath()
            + " has no OpenAI 124M model (make download MODEL=124M)");
    try (Gpt2Model model = Gpt2Model.load(MODEL)) {
      assertEquals(
          c.expected(), model.generate(c.prompt(), SampleOptions.greedy(c.length())).get(0).text());
    }
  }

  @ParameterizedTest
  @MethodSource("cases")
  void sampleCommandPrintsOpenAisContinuation(Case c) {
    Assumptions.assumeTrue(
        Files.isRegularFile(MODEL.resolve("checkpoint")),
        "skipped: "
            + MODEL.toAbsolutePath()
            + " has no OpenAI 124M model (make download MODEL=124M)");
    String out =
        dev.gpt2j.cli.CliRunner.run(
                "sample",
                "--model-dir",
                MODEL.toString(),
                "--prompt",
                c.prompt(),
                "--length",
                String.valueOf(c.length()),
                "--top-k",
                "1",
                "--seed",
                "0")
            .out();
    assertEquals(true, out.contains("\n" + c.expected() + "\n"), out);
  }
}
