package dev.gpt2j.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.testing.TinyModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The peer: llama.cpp (node-llama-cpp's prebuilt CPU libraries, scripts/llamacpp; `make llamacpp`
 * installs them) runs an f32 export and generates the same 64 greedy tokens as our decoder, for
 * GPT-2, LLaMA's blocks with grouped-query attention, and a mixture of experts.
 */
@Tag("process")
class LlamaCppTest {
  private static final Path PEER = Path.of("scripts/llamacpp");
  private static final int TOKENS = 64;
  private static final int[] PROMPT = {464, 2068, 7586, 21831, 18045};

  private static final Map<String, HParams> MODELS =
      Map.of(
          "gpt2",
          new HParams(50257, 128, 32, 4, 2),
          "llama",
          new HParams(50257, 128, 32, 4, 2, llama("n_kv_head", "2")),
          "mixture",
          new HParams(50257, 128, 32, 4, 2, llama("moe_experts", "4", "moe_top_k", "2")));

  private static Architecture llama(String... more) {
    Map<String, String> keys =
        new java.util.HashMap<>(
            Map.of("norm", "rmsnorm", "mlp", "swiglu", "position", "rope", "bias", "false"));
    for (int i = 0; i < more.length; i += 2) {
      keys.put(more[i], more[i + 1]);
    }
    return Architecture.fromText(keys);
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "llama", "mixture"})
  void llamaCppGeneratesOurGreedyTokensFromAnF32Export(
      String name, @org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    assumePeer();
    HParams hp = MODELS.get(name);
    Path dir = tmp.resolve(name);
    TinyModels.write(dir, hp, TinyModels.random(hp, 11));
    Path file = Exports.gguf(dir, tmp.resolve(name + ".gguf"), "f32");
    int[] ours;
    try (Gpt2Model model = Gpt2Model.load(dir)) {
      ours = greedy(model);
    }
    assertEquals(
        Arrays.stream(ours).boxed().toList(), llamaCpp(file), name + ": llama.cpp's greedy tokens");
  }

  // f16 and bf16 round the matrices: llama.cpp's greedy tokens may part from ours only at a step
  // where our float32 top two logits are within 0.05 of each other
  @ParameterizedTest
  @ValueSource(strings = {"f16", "bf16"})
  void halfExportsPartFromUsOnlyWhereOurTopTwoAreClose(
      String ftype, @org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    assumePeer();
    HParams hp = MODELS.get("gpt2");
    Path dir = tmp.resolve("gpt2");
    TinyModels.write(dir, hp, TinyModels.random(hp, 12));
    Path file = Exports.gguf(dir, tmp.resolve(ftype + ".gguf"), ftype);
    List<Integer> theirs = llamaCpp(file);
    try (Gpt2Model model = Gpt2Model.load(dir)) {
      int[] ours = greedy(model);
      int parted = 0;
      while (parted < TOKENS && ours[parted] == theirs.get(parted)) {
        parted++;
      }
      if (parted == TOKENS) {
        return;
      }
      int[] seen = new int[PROMPT.length + parted];
      System.arraycopy(PROMPT, 0, seen, 0, PROMPT.length);
      System.arraycopy(ours, 0, seen, PROMPT.length, parted);
      float[] logits = model.logits(new int[][] {seen})[0][seen.length - 1];
      float[] sorted = logits.clone();
      Arrays.sort(sorted);
      double gap = sorted[sorted.length - 1] - sorted[sorted.length - 2];
      assertTrue(
          gap < 0.05,
          ftype + ": parted at token " + parted + " where our top two differ by " + gap);
    }
  }

  private static void assumePeer() {
    Assumptions.assumeTrue(
        Files.isDirectory(PEER.resolve("node_modules/node-llama-cpp")) && onPath("node"),
        "skipped: llama.cpp's peer is not installed (make llamacpp needs node and npm)");
  }

  private static int[] greedy(Gpt2Model model) {
    return model
        .generate(
            PROMPT,
            SampleOptions.builder().greedy(true).length(TOKENS).build(),
            (sample, token) -> {})
        .get(0)
        .tokens();
  }

  private static List<Integer> llamaCpp(Path gguf) throws IOException, InterruptedException {
    String prompt =
        Arrays.stream(PROMPT).mapToObj(String::valueOf).collect(Collectors.joining(","));
    Process p =
        new ProcessBuilder(
                "node", "greedy.mjs", gguf.toAbsolutePath().toString(), "" + TOKENS, prompt)
            .directory(PEER.toFile())
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new AssertionError("llama.cpp failed: " + err);
    }
    return Arrays.stream(out.split(",")).map(Integer::valueOf).toList();
  }

  private static boolean onPath(String program) {
    return Arrays.stream(System.getenv("PATH").split(":"))
        .anyMatch(d -> Files.isExecutable(Path.of(d, program)));
  }
}
