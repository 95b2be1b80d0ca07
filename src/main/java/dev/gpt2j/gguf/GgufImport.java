package dev.gpt2j.gguf;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.tokenizer.OpenAiVocabulary;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.Floats;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GPT-2 GGUF file (llama.cpp's architecture gpt2, in F32, F16 or BF16) as an OpenAI-layout model
 * directory: its shape in hparams.json, GPT-2's vocabulary files, and every tensor under OpenAI's
 * name and layout (llama.cpp's [out, in] matrices back to [1, in, out]), the inverse of {@link
 * GgufExport}. What does not fit GPT-2 is refused in one line, naming the file, before anything is
 * written.
 */
public final class GgufImport {
  private GgufImport() {}

  /** Reads {@code gguf} and writes the model directory {@code dir}; returns its shape. */
  public static HParams toModelDir(Path gguf, Path dir) {
    GgufFile f = GgufFile.read(gguf);
    HParams hp = shape(f);
    requireGpt2Vocabulary(f);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    ModelVariables.describe(hp).forEach(s -> shapes.put(s.name(), s.shape()));
    Map<String, float[]> weights = weights(f, hp);
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      long n = Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
      if (weights.get(e.getKey()).length != n) {
        throw f.wrong(
            "its tensor for "
                + e.getKey()
                + " holds "
                + weights.get(e.getKey()).length
                + " values; the model's shape needs "
                + n);
      }
    }
    ModelDir.writeNew(
        dir, hp, Tokenizer.GPT2, prefix -> CheckpointIO.write(prefix, weights, shapes));
    return hp;
  }

  private static HParams shape(GgufFile f) {
    String arch = f.string("general.architecture");
    if (!arch.equals("gpt2")) {
      throw f.wrong("a model of architecture " + arch + "; import reads GPT-2 (gpt2)");
    }
    int embd = f.integer("gpt2.embedding_length");
    if (f.integer("gpt2.feed_forward_length") != 4 * embd) {
      throw f.wrong("gpt2.feed_forward_length must be 4 x embedding_length, as GPT-2's");
    }
    if (f.hasKey("gpt2.attention.layer_norm_epsilon")
        && Math.abs(((Number) f.key("gpt2.attention.layer_norm_epsilon")).doubleValue() - 1e-5)
            > 1e-9) {
      throw f.wrong(
          "gpt2.attention.layer_norm_epsilon is "
              + f.key("gpt2.attention.layer_norm_epsilon")
              + "; GPT-2's layer norms use 1e-5");
    }
    GgufFile.Tensor wte = f.tensors().get("token_embd.weight");
    if (wte == null) {
      throw f.wrong("no token_embd.weight");
    }
    return new HParams(
        Math.toIntExact(wte.shape()[0]),
        f.integer("gpt2.context_length"),
        embd,
        f.integer("gpt2.attention.head_count"),
        f.integer("gpt2.block_count"));
  }

  private static void requireGpt2Vocabulary(GgufFile f) {
    if (!f.hasKey("tokenizer.ggml.tokens")
        || !"gpt2".equals(f.key("tokenizer.ggml.model"))
        || !OpenAiVocabulary.tokens().equals(f.key("tokenizer.ggml.tokens"))) {
      throw f.wrong("its vocabulary is not GPT-2's 50,257 byte-level BPE tokens");
    }
  }

  private static Map<String, float[]> weights(GgufFile f, HParams hp) {
    Map<String, float[]> w = new LinkedHashMap<>();
    int c = hp.nEmbd();
    float[] wte = f.floats("token_embd.weight");
    if (f.tensors().containsKey("output.weight")
        && !Arrays.equals(wte, f.floats("output.weight"))) {
      throw f.wrong("its output.weight is not token_embd.weight; GPT-2's output layer is tied");
    }
    w.put(ModelVariables.WTE, wte);
    w.put(ModelVariables.WPE, f.floats("position_embd.weight"));
    for (int i = 0; i < hp.nLayer(); i++) {
      String blk = "blk." + i + ".";
      String h = "model/h" + i + "/";
      norm(f, w, blk + "attn_norm", h + "ln_1");
      linear(f, w, blk + "attn_qkv", h + "attn/c_attn", c, 3 * c);
      linear(f, w, blk + "attn_output", h + "attn/c_proj", c, c);
      norm(f, w, blk + "ffn_norm", h + "ln_2");
      linear(f, w, blk + "ffn_up", h + "mlp/c_fc", c, 4 * c);
      linear(f, w, blk + "ffn_down", h + "mlp/c_proj", 4 * c, c);
    }
    norm(f, w, "output_norm", "model/ln_f");
    return w;
  }

  private static void norm(GgufFile f, Map<String, float[]> w, String from, String to) {
    w.put(to + "/g", f.floats(from + ".weight"));
    w.put(to + "/b", f.floats(from + ".bias"));
  }

  // llama.cpp's [out, in] back to OpenAI's [1, in, out]
  private static void linear(
      GgufFile f, Map<String, float[]> w, String from, String to, int in, int out) {
    float[] m = f.floats(from + ".weight");
    if (m.length != in * out) {
      throw f.wrong(from + ".weight holds " + m.length + " values; expected " + out + " x " + in);
    }
    w.put(to + "/w", Floats.transposed(m, out, in));
    w.put(to + "/b", f.floats(from + ".bias"));
  }
}
