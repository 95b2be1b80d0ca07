package dev.gpt2j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.SharedFiles;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * export-gguf's files read back by an independent reader of the specification (GgufReader): keys,
 * shapes, types, alignment, the tokenizer against OpenAI's own files, every value against the
 * checkpoint, and the query and key rows against rotary attention scores computed both ways.
 */
class GgufExportTest {
  static final HParams GPT2 = new HParams(50257, 16, 8, 2, 2);

  // LLaMA's blocks, with grouped-query attention: 4 query heads, 2 key/value heads, head size 4
  static final HParams LLAMA =
      new HParams(
          50257,
          16,
          16,
          4,
          2,
          Architecture.fromText(
              Map.of(
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
                  "rope_theta",
                  "500")));

  @TempDir Path tmp;

  private GgufReader export(HParams hp, Map<String, float[]> weights, String ftype)
      throws Exception {
    Path dir = tmp.resolve("m-" + ftype);
    TinyModels.write(dir, hp, weights);
    Path file = Exports.gguf(dir, tmp.resolve(ftype + ".gguf"), ftype);
    return new GgufReader(file);
  }

  @Test
  void gpt2IsWrittenAsLlamaCppsConverterWritesIt() throws Exception {
    Map<String, float[]> w = TinyModels.random(GPT2, 3);
    GgufReader g = export(GPT2, w, "f32");
    assertEquals(3, g.version);
    assertEquals("gpt2", g.keys.get("general.architecture"));
    assertEquals(0L, g.keys.get("general.file_type"));
    assertEquals(16L, g.keys.get("gpt2.context_length"));
    assertEquals(8L, g.keys.get("gpt2.embedding_length"));
    assertEquals(32L, g.keys.get("gpt2.feed_forward_length"));
    assertEquals(2L, g.keys.get("gpt2.block_count"));
    assertEquals(2L, g.keys.get("gpt2.attention.head_count"));
    assertEquals(1e-5f, (Float) g.keys.get("gpt2.attention.layer_norm_epsilon"));
    assertAligned(g);
    // 4 outside the blocks, 12 in each; no output.weight: the head is tied to token_embd
    assertEquals(4 + 12 * 2, g.tensors.size());
    assertFalse(g.tensors.containsKey("output.weight"));
    assertArrayEquals(new long[] {50257, 8}, g.tensors.get("token_embd.weight").shape());
    assertArrayEquals(w.get("model/wte"), g.floats("token_embd.weight"));
    assertArrayEquals(w.get("model/wpe"), g.floats("position_embd.weight"));
    assertArrayEquals(w.get("model/ln_f/b"), g.floats("output_norm.bias"));
    String[][] linear = {
      {"attn_qkv", "attn/c_attn", "8", "24"},
      {"attn_output", "attn/c_proj", "8", "8"},
      {"ffn_up", "mlp/c_fc", "8", "32"},
      {"ffn_down", "mlp/c_proj", "32", "8"}
    };
    for (int b = 0; b < 2; b++) {
      for (String[] l : linear) {
        int in = Integer.parseInt(l[2]);
        int out = Integer.parseInt(l[3]);
        String name = "blk." + b + "." + l[0] + ".weight";
        assertArrayEquals(new long[] {out, in}, g.tensors.get(name).shape(), name);
        float[] ours = w.get("model/h" + b + "/" + l[1] + "/w"); // [1, in, out]
        float[] theirs = g.floats(name); // [out, in]
        for (int i = 0; i < in; i++) {
          for (int o = 0; o < out; o++) {
            assertEquals(ours[i * out + o], theirs[o * in + i], name);
          }
        }
        assertArrayEquals(
            w.get("model/h" + b + "/" + l[1] + "/b"), g.floats("blk." + b + "." + l[0] + ".bias"));
      }
      assertArrayEquals(
          w.get("model/h" + b + "/ln_2/g"), g.floats("blk." + b + ".ffn_norm.weight"));
    }
  }

  // the tokenizer against OpenAI's encoder.json and vocab.bpe themselves
  @Test
  void theVocabularyIsOpenAisByteLevelBpe() throws Exception {
    Path encoder = SharedFiles.require("gpt2-tokenizer/encoder.json");
    Path bpe = SharedFiles.require("gpt2-tokenizer/vocab.bpe");
    GgufReader g = export(GPT2, TinyModels.random(GPT2, 4), "f32");
    assertEquals("gpt2", g.keys.get("tokenizer.ggml.model"));
    assertEquals("gpt-2", g.keys.get("tokenizer.ggml.pre"));
    @SuppressWarnings("unchecked")
    List<Object> tokens = (List<Object>) g.keys.get("tokenizer.ggml.tokens");
    JsonNode ids = new ObjectMapper().readTree(encoder.toFile());
    assertEquals(ids.size(), tokens.size());
    ids.fields()
        .forEachRemaining(
            e -> assertEquals(e.getKey(), tokens.get(e.getValue().asInt()), "id " + e.getValue()));
    List<String> merges = new ArrayList<>(Files.readAllLines(bpe));
    merges.remove(0); // #version: 0.2
    merges.removeIf(String::isEmpty);
    assertEquals(merges, g.keys.get("tokenizer.ggml.merges"));
    @SuppressWarnings("unchecked")
    List<Object> types = (List<Object>) g.keys.get("tokenizer.ggml.token_type");
    assertEquals(3, types.get(50256), "<|endoftext|> is a control token");
    assertEquals(1, types.get(50255));
    assertEquals(50256L, g.keys.get("tokenizer.ggml.eos_token_id"));
    assertEquals(false, g.keys.get("tokenizer.ggml.add_bos_token"));
  }

  @Test
  void halfExportsRoundTheMatricesAndKeepNormsAndBiases() throws Exception {
    Map<String, float[]> w = TinyModels.random(GPT2, 5);
    for (String ftype : new String[] {"f16", "bf16"}) {
      GgufReader g = export(GPT2, w, ftype);
      int type = ftype.equals("f16") ? 1 : 30;
      double relative = ftype.equals("f16") ? Math.pow(2, -11) : Math.pow(2, -8);
      assertEquals(ftype.equals("f16") ? 1L : 32L, g.keys.get("general.file_type"));
      assertEquals(type, g.tensors.get("token_embd.weight").type());
      assertEquals(type, g.tensors.get("blk.1.ffn_down.weight").type());
      assertEquals(0, g.tensors.get("blk.1.ffn_down.bias").type());
      assertEquals(0, g.tensors.get("output_norm.weight").type());
      assertAligned(g);
      float[] ours = w.get("model/wte");
      float[] theirs = g.floats("token_embd.weight");
      for (int i = 0; i < ours.length; i++) {
        assertEquals(ours[i], theirs[i], Math.abs(ours[i]) * relative + 1e-7, ftype + " " + i);
      }
      assertArrayEquals(w.get("model/h1/mlp/c_proj/b"), g.floats("blk.1.ffn_down.bias"));
    }
  }

  // q.k after rotary positions, in float64: ours (rotate-half on OpenAI-layout c_attn) against
  // llama.cpp's (adjacent pairs on the exported attn_q and attn_k); and v, the MLP, untouched
  @Test
  void llamaStyleModelsKeepTheirAttentionScoresUnderLlamaCppsRotation() throws Exception {
    Map<String, float[]> w = TinyModels.random(LLAMA, 6);
    GgufReader g = export(LLAMA, w, "f32");
    assertEquals("llama", g.keys.get("general.architecture"));
    assertEquals(2L, g.keys.get("llama.attention.head_count_kv"));
    assertEquals(500f, (Float) g.keys.get("llama.rope.freq_base"));
    assertFalse(g.tensors.containsKey("position_embd.weight"));
    int c = 16;
    int d = 4;
    float[] cAttn = w.get("model/h1/attn/c_attn/w"); // [C, (4 + 2 * 2) * 4]
    int width = (4 + 2 * 2) * d;
    float[] q = g.floats("blk.1.attn_q.weight"); // [4 * 4, C]
    float[] k = g.floats("blk.1.attn_k.weight"); // [2 * 4, C]
    java.util.Random random = new java.util.Random(9);
    double[] x = random.doubles(c, -1, 1).toArray();
    double[] y = random.doubles(c, -1, 1).toArray();
    int m = 5;
    int n = 2;
    for (int head = 0; head < 4; head++) {
      int kvHead = head / 2;
      double[] oursQ = rotateHalf(project(cAttn, width, x, head * d, d), m, 500);
      double[] oursK = rotateHalf(project(cAttn, width, y, 4 * d + kvHead * d, d), n, 500);
      double[] theirQ = adjacentPairs(rows(q, c, x, head * d, d), m, 500);
      double[] theirK = adjacentPairs(rows(k, c, y, kvHead * d, d), n, 500);
      assertEquals(dot(oursQ, oursK), dot(theirQ, theirK), 1e-9, "head " + head);
    }
    float[] v = g.floats("blk.1.attn_v.weight"); // [2 * 4, C]
    for (int o = 0; o < 2 * d; o++) {
      for (int i = 0; i < c; i++) {
        assertEquals(cAttn[i * width + 4 * d + 2 * d + o], v[o * c + i]);
      }
    }
    float[] gate = w.get("model/h0/mlp/c_gate/w");
    int f = LLAMA.mlpHidden();
    assertArrayEquals(new long[] {f, c}, g.tensors.get("blk.0.ffn_gate.weight").shape());
    assertEquals(gate[3 * f + 7], g.floats("blk.0.ffn_gate.weight")[7 * c + 3]);
    assertAligned(g);
  }

  @Test
  void whatLlamaCppCannotRunIsRefusedBeforeAnythingIsWritten() throws Exception {
    HParams relu =
        new HParams(
            50257, 16, 8, 2, 1, Architecture.fromText(Map.of("norm", "rmsnorm", "mlp", "relu")));
    HParams small = new HParams(97, 16, 8, 2, 1);
    String[][] cases = {
      {"relu", "llama.cpp runs GPT-2 (layernorm, gelu, learned positions, biases) or LLaMA's"},
      {"small", "llama.cpp takes the vocabulary's size from token_embd: n_vocab must be GPT-2's"}
    };
    for (String[] c : cases) {
      Path dir = tmp.resolve(c[0]);
      HParams hp = c[0].equals("relu") ? relu : small;
      TinyModels.write(dir, hp, TinyModels.random(hp, 1));
      Path file = tmp.resolve(c[0] + ".gguf");
      String err =
          CliRunner.refusal("export-gguf", "--model-dir", dir.toString(), "--out", file.toString());
      assertTrue(err.startsWith(c[1]), err);
      assertFalse(Files.exists(file), "nothing written");
    }
  }

  private static void assertAligned(GgufReader g) {
    assertEquals(0, g.dataStart % 32);
    long end = 0;
    for (GgufReader.TensorInfo t : g.tensors.values()) {
      assertEquals(0, t.offset() % 32, t.name());
      assertTrue(t.offset() >= end, t.name() + " overlaps the tensor before it");
      end = t.offset() + t.elements() * (t.type() == 0 ? 4 : 2);
    }
    assertTrue(g.dataStart + end <= g.fileSize());
  }

  // x [C] times columns [from, from + n) of m [C, width] (OpenAI's [in, out])
  private static double[] project(float[] m, int width, double[] x, int from, int n) {
    double[] out = new double[n];
    for (int o = 0; o < n; o++) {
      for (int i = 0; i < x.length; i++) {
        out[o] += x[i] * m[i * width + from + o];
      }
    }
    return out;
  }

  // rows [from, from + n) of m [.., C] (llama.cpp's [out, in]) times x [C]
  private static double[] rows(float[] m, int c, double[] x, int from, int n) {
    double[] out = new double[n];
    for (int o = 0; o < n; o++) {
      for (int i = 0; i < c; i++) {
        out[o] += m[(from + o) * c + i] * x[i];
      }
    }
    return out;
  }

  // the pair (i, i + d/2) turned by position * theta^(-2i/d)
  private static double[] rotateHalf(double[] x, int position, double theta) {
    int half = x.length / 2;
    double[] out = x.clone();
    for (int i = 0; i < half; i++) {
      double a = position * Math.pow(theta, -2.0 * i / x.length);
      out[i] = x[i] * Math.cos(a) - x[i + half] * Math.sin(a);
      out[i + half] = x[i] * Math.sin(a) + x[i + half] * Math.cos(a);
    }
    return out;
  }

  // the pair (2j, 2j + 1) turned by position * theta^(-2j/d), as llama.cpp's normal RoPE
  private static double[] adjacentPairs(double[] x, int position, double theta) {
    double[] out = x.clone();
    for (int j = 0; j < x.length / 2; j++) {
      double a = position * Math.pow(theta, -2.0 * j / x.length);
      out[2 * j] = x[2 * j] * Math.cos(a) - x[2 * j + 1] * Math.sin(a);
      out[2 * j + 1] = x[2 * j] * Math.sin(a) + x[2 * j + 1] * Math.cos(a);
    }
    return out;
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
