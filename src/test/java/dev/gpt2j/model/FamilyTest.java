package dev.gpt2j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.op.Ops;

/**
 * Every member of the family the graph builds (issue 25's options, each alone and all together)
 * against the float64 reference written from the issue's formulas: score's log-probabilities to
 * 1e-5 and KV-cached greedy decoding token for token.
 */
public class FamilyTest {

  /** Options over a tiny model with 4 heads (so that 2 key/value heads are grouped-query). */
  public static Stream<Arguments> variants() {
    return Stream.of(
        variant("rmsnorm", "norm", "rmsnorm"),
        variant("relu", "mlp", "relu"),
        variant("swiglu", "mlp", "swiglu", "mlp_hidden", "40"),
        variant("rope", "position", "rope", "rope_theta", "500.0"),
        variant("grouped-query", "n_kv_head", "2"),
        variant("multi-query", "n_kv_head", "1"),
        variant("no biases", "bias", "false"),
        variant("mixture", "moe_experts", "4", "moe_top_k", "2"),
        variant(
            "all",
            "norm",
            "rmsnorm",
            "mlp",
            "swiglu",
            "position",
            "rope",
            "n_kv_head",
            "2",
            "bias",
            "false",
            "moe_experts",
            "3",
            "moe_top_k",
            "2"));
  }

  private static Arguments variant(String name, String... keyValues) {
    Map<String, String> options = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      options.put(keyValues[i], keyValues[i + 1]);
    }
    return Arguments.of(name, new HParams(53, 16, 24, 4, 2, Architecture.fromText(options)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variants")
  void scoreAndCachedGreedyDecodingMatchTheFloat64Reference(
      String name, HParams hp, @TempDir Path tmp) {
    Map<String, float[]> weights = TinyModels.writeRandom(tmp.resolve("m"), hp, 11);
    assertEquals(hp, ModelDir.hparams(tmp.resolve("m")), "hparams.json reads back");
    ReferenceGpt2 reference = new ReferenceGpt2(hp, weights);
    int[] tokens = new Random(2).ints(hp.nCtx(), 0, hp.nVocab()).toArray();
    double[][] logits = reference.logits(tokens);
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"))) {
      double[] scored = model.score(tokens);
      double worst = 0;
      double scale = 0;
      for (int i = 0; i + 1 < tokens.length; i++) {
        double expected = logSoftmax(logits[i])[tokens[i + 1]];
        scale = Math.max(scale, Math.abs(expected));
        worst = Math.max(worst, Math.abs(scored[i] - expected));
      }
      System.out.printf("%s: score within %.2e of float64 (scale %.2f)%n", name, worst, scale);
      assertTrue(worst <= 1e-5 * scale, name + ": score off by " + worst);

      int[] prompt = Arrays.copyOf(tokens, 3);
      int[] greedy = model.generate(prompt, SampleOptions.greedy(10), (r, t) -> {}).get(0).tokens();
      assertArrayEquals(referenceGreedy(reference, prompt, 10), greedy, name + ": greedy tokens");
    }
  }

  // bfloat16 weight matrices (the native decoding kernels widen them; the experts' products too)
  @Test
  void everyBlockOfTheFamilyScoresInBfloat16(@TempDir Path tmp) {
    HParams hp = (HParams) variants().reduce((a, b) -> b).orElseThrow().get()[1]; // "all"
    Map<String, float[]> weights = TinyModels.writeRandom(tmp.resolve("m"), hp, 11);
    int[] tokens = new Random(2).ints(hp.nCtx(), 0, hp.nVocab()).toArray();
    double[][] logits = new ReferenceGpt2(hp, weights).logits(tokens);
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"), DType.BFLOAT16)) {
      double[] scored = model.score(tokens);
      double worst = 0;
      for (int i = 0; i + 1 < tokens.length; i++) {
        worst = Math.max(worst, Math.abs(scored[i] - logSoftmax(logits[i])[tokens[i + 1]]));
      }
      // bfloat16 keeps 8 bits of mantissa: each product is within about 2^-8 of float32's
      System.out.printf("all, bfloat16: score within %.3f of float64%n", worst);
      assertTrue(worst < 0.25, "bfloat16 score off by " + worst);
      int[] greedy =
          model
              .generate(Arrays.copyOf(tokens, 3), SampleOptions.greedy(4), (r, t) -> {})
              .get(0)
              .tokens();
      assertEquals(4, greedy.length);
    }
  }

  // the argmax of the full sequence's last logits, one token at a time
  private static int[] referenceGreedy(ReferenceGpt2 reference, int[] prompt, int n) {
    int[] seq = Arrays.copyOf(prompt, prompt.length + n);
    for (int i = prompt.length; i < seq.length; i++) {
      double[] last = reference.logits(Arrays.copyOf(seq, i))[i - 1];
      int best = 0;
      for (int v = 1; v < last.length; v++) {
        best = last[v] > last[best] ? v : best;
      }
      seq[i] = best;
    }
    return Arrays.copyOfRange(seq, prompt.length, seq.length);
  }

  private static double[] logSoftmax(double[] x) {
    double max = Arrays.stream(x).max().orElseThrow();
    double z = Math.log(Arrays.stream(x).map(v -> Math.exp(v - max)).sum()) + max;
    return Arrays.stream(x).map(v -> v - z).toArray();
  }

  @Test
  void checkpointNamesAndShapesAreTheIssuesLayout() {
    HParams hp = (HParams) variants().reduce((a, b) -> b).orElseThrow().get()[1]; // "all"
    try (Graph g = new Graph()) {
      Map<String, long[]> shapes = new LinkedHashMap<>();
      ModelVariables.create(Ops.create(g), hp).all().forEach(v -> shapes.put(v.name(), v.shape()));
      assertFalse(shapes.containsKey("model/wpe"), "no wpe with rope");
      assertFalse(shapes.keySet().stream().anyMatch(n -> n.endsWith("/b")), "no biases");
      // head size 6: 4 query heads and 2 key/value heads, q then k then v
      assertArrayEquals(new long[] {1, 24, (4 + 2 * 2) * 6}, shapes.get("model/h0/attn/c_attn/w"));
      assertArrayEquals(new long[] {1, 24, 3}, shapes.get("model/h1/mlp/router/w"));
      int hidden = 64 * (int) Math.ceil(8.0 * 24 / 3 / 64);
      assertArrayEquals(new long[] {3, 24, hidden}, shapes.get("model/h0/mlp/c_gate/w"));
      assertArrayEquals(new long[] {3, hidden, 24}, shapes.get("model/h0/mlp/c_proj/w"));
      assertEquals(hp.parameterCount(), ModelVariables.create(Ops.create(g), hp).parameterCount());
    }
  }

  @Test
  void hparamsJsonHoldsOnlyWhatDiffersFromGpt2AndRefusesUnknownKeys(@TempDir Path tmp)
      throws Exception {
    assertEquals(
        "{\"n_vocab\":5,\"n_ctx\":4,\"n_embd\":8,\"n_head\":2,\"n_layer\":1}",
        new HParams(5, 4, 8, 2, 1).toJson().replaceAll("\\s", ""));
    HParams llama =
        new HParams(
            5,
            4,
            8,
            2,
            1,
            Architecture.fromText(
                Map.of(
                    "bias", "false", "n_kv_head", "1", "rope_theta", "500", "mlp_hidden", "32")));
    String json = llama.toJson().replaceAll("\\s", "");
    // mlp_hidden 32 is 4 n_embd, gelu's default: not written
    assertEquals(
        "{\"n_vocab\":5,\"n_ctx\":4,\"n_embd\":8,\"n_head\":2,\"n_layer\":1,"
            + "\"rope_theta\":500.0,\"n_kv_head\":1,\"bias\":false}",
        json);
    assertEquals(llama, HParams.fromJson(json));
    String dropout = json.replace("}", ",\"dropout\":0.1}");
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> HParams.fromJson(dropout))
            .getMessage()
            .startsWith("unknown key \"dropout\""));
    String quoted = json.replace("false", "\"false\"");
    assertEquals(
        "\"bias\" must be true or false, got \"false\"",
        assertThrows(IllegalArgumentException.class, () -> HParams.fromJson(quoted)).getMessage());
    Path dir = Files.createDirectories(tmp.resolve("m"));
    Files.writeString(dir.resolve("hparams.json"), json.replace("1,\"bias", "3,\"bias"));
    assertTrue(
        assertThrows(RuntimeException.class, () -> ModelDir.hparams(dir))
            .getMessage()
            .contains("n_kv_head (3) must divide n_head (2)"));
  }

  @Test
  void combinationsThatCannotWorkAreRefusedInOneLine() {
    assertEquals(
        "moe_top_k must be between 1 and moe_experts (2), got 3",
        assertThrows(
                IllegalArgumentException.class,
                () -> Architecture.fromText(Map.of("moe_experts", "2", "moe_top_k", "3")))
            .getMessage());
    assertEquals(
        "position=rope needs an even head size, but n_embd / n_head = 3",
        assertThrows(
                IllegalArgumentException.class,
                () -> new HParams(5, 4, 9, 3, 1, Architecture.fromText(Map.of("position", "rope"))))
            .getMessage());
  }
}
