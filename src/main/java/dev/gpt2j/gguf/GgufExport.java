package dev.gpt2j.gguf;

import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import dev.gpt2j.tokenizer.OpenAiVocabulary;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.Floats;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * A model as llama.cpp runs it, in a GGUF file: GPT-2 as architecture {@code gpt2} (the keys and
 * tensors llama.cpp's convert_hf_to_gguf.py writes for GPT2Model), a LLaMA-style member of the
 * family (rmsnorm, swiglu, rope, no biases; grouped-query attention and a mixture of experts too)
 * as {@code llama}. OpenAI's conv weights [1, in, out] become llama.cpp's [out, in]; the output
 * layer stays tied to token_embd (llama.cpp takes it when output.weight is absent). What llama.cpp
 * cannot run exactly is refused in one line before anything is written.
 */
public final class GgufExport {
  private GgufExport() {}

  /** general.file_type, and the type the matrices are written in; norms and biases stay F32. */
  public enum FileType {
    F32(0, GgufWriter.TensorType.F32),
    F16(1, GgufWriter.TensorType.F16),
    BF16(32, GgufWriter.TensorType.BF16);

    final int id;
    final GgufWriter.TensorType matrices;

    FileType(int id, GgufWriter.TensorType matrices) {
      this.id = id;
      this.matrices = matrices;
    }

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** f32, f16 or bf16; anything else names {@code option}. */
    public static FileType of(String label, String option) {
      for (FileType t : values()) {
        if (t.label().equals(label)) {
          return t;
        }
      }
      throw new IllegalArgumentException(
          option + ": expected f32, f16 or bf16, got '" + label + "'");
    }
  }

  /** llama.cpp's architecture for a model of shape {@code hp}. */
  enum Arch {
    GPT2("gpt2"),
    LLAMA("llama");

    final String name;

    Arch(String name) {
      this.name = name;
    }
  }

  /** Refuses, in one line, a model llama.cpp cannot run exactly (before its weights are read). */
  public static void requireExportable(HParams hp, Tokenizer tokenizer) {
    archOf(hp, tokenizer);
  }

  // the architecture llama.cpp runs this model as; an IllegalArgumentException says why it cannot
  static Arch archOf(HParams hp, Tokenizer tokenizer) {
    if (tokenizer instanceof CharTokenizer) {
      throw new IllegalArgumentException(
          "a character-level model (chars.json) is not exported: llama.cpp would split its text"
              + " with another vocabulary");
    }
    if (hp.nVocab() != Gpt2Tokenizer.VOCAB_SIZE) {
      throw new IllegalArgumentException(
          "llama.cpp takes the vocabulary's size from token_embd: n_vocab must be GPT-2's "
              + Gpt2Tokenizer.VOCAB_SIZE
              + ", got "
              + hp.nVocab());
    }
    Architecture a = hp.arch();
    if (a.equals(Architecture.GPT2)) {
      return Arch.GPT2;
    }
    boolean llama =
        a.norm() == Architecture.Norm.RMSNORM
            && a.mlp() == Architecture.Mlp.SWIGLU
            && a.position() == Architecture.Position.ROPE
            && !a.bias();
    if (!llama) {
      throw new IllegalArgumentException(
          "llama.cpp runs GPT-2 (layernorm, gelu, learned positions, biases) or LLaMA's blocks"
              + " (rmsnorm, swiglu, rope, no biases); this model is "
              + hp.describe());
    }
    if (hp.headSize() % 2 != 0) {
      throw new IllegalArgumentException(
          "rotary positions need an even head size, got " + hp.headSize());
    }
    return Arch.LLAMA;
  }

  /** Writes {@code weights} (OpenAI's names and layouts) as a GGUF file named {@code name}. */
  public static void write(
      Path out,
      String name,
      HParams hp,
      Tokenizer tokenizer,
      Map<String, float[]> weights,
      FileType type) {
    Arch arch = archOf(hp, tokenizer);
    GgufWriter w = new GgufWriter();
    w.string("general.architecture", arch.name)
        .string("general.name", name)
        .uint32("general.file_type", type.id);
    String a = arch.name + ".";
    w.uint32(a + "context_length", hp.nCtx())
        .uint32(a + "embedding_length", hp.nEmbd())
        .uint32(a + "feed_forward_length", hp.mlpHidden())
        .uint32(a + "block_count", hp.nLayer())
        .uint32(a + "attention.head_count", hp.nHead());
    if (arch == Arch.GPT2) {
      w.float32(a + "attention.layer_norm_epsilon", 1e-5f);
    } else {
      w.uint32(a + "attention.head_count_kv", hp.nKvHead())
          .float32(a + "attention.layer_norm_rms_epsilon", 1e-5f)
          .float32(a + "rope.freq_base", (float) hp.arch().ropeTheta())
          .uint32(a + "rope.dimension_count", hp.headSize());
      if (hp.arch().moe()) {
        w.uint32(a + "expert_count", hp.arch().moeExperts())
            .uint32(a + "expert_used_count", hp.arch().moeTopK());
      }
    }
    vocabulary(w);
    new Tensors(w, weights, type.matrices).write(hp, arch);
    w.write(out);
  }

  // GPT-2's byte-level BPE as llama.cpp's "gpt2" tokenizer: tokens as encoder.json spells them,
  // vocab.bpe's merges, <|endoftext|> a control token that ends text; no BOS is added (OpenAI's
  // sampling adds none)
  private static void vocabulary(GgufWriter w) {
    int[] types = new int[Gpt2Tokenizer.VOCAB_SIZE];
    Arrays.fill(types, 1); // LLAMA_TOKEN_TYPE_NORMAL
    types[Gpt2Tokenizer.END_OF_TEXT] = 3; // CONTROL
    w.string("tokenizer.ggml.model", "gpt2")
        .string("tokenizer.ggml.pre", "gpt-2")
        .strings("tokenizer.ggml.tokens", OpenAiVocabulary.tokens())
        .int32s("tokenizer.ggml.token_type", types)
        .strings("tokenizer.ggml.merges", OpenAiVocabulary.merges())
        .uint32("tokenizer.ggml.bos_token_id", Gpt2Tokenizer.END_OF_TEXT)
        .uint32("tokenizer.ggml.eos_token_id", Gpt2Tokenizer.END_OF_TEXT)
        .bool("tokenizer.ggml.add_bos_token", false);
  }

  // each tensor under llama.cpp's name, in its layout
  private record Tensors(GgufWriter w, Map<String, float[]> weights, GgufWriter.TensorType matrix) {
    void write(HParams hp, Arch arch) {
      int c = hp.nEmbd();
      matrix("token_embd.weight", "model/wte", hp.nVocab(), c);
      if (arch == Arch.GPT2) {
        matrix("position_embd.weight", "model/wpe", hp.nCtx(), c);
      }
      norm("output_norm", "model/ln_f");
      for (int i = 0; i < hp.nLayer(); i++) {
        String blk = "blk." + i + ".";
        String h = "model/h" + i + "/";
        norm(blk + "attn_norm", h + "ln_1");
        norm(blk + "ffn_norm", h + "ln_2");
        if (arch == Arch.GPT2) {
          linear(blk + "attn_qkv", h + "attn/c_attn", c, 3 * c);
          linear(blk + "attn_output", h + "attn/c_proj", c, c);
          linear(blk + "ffn_up", h + "mlp/c_fc", c, hp.mlpHidden());
          linear(blk + "ffn_down", h + "mlp/c_proj", hp.mlpHidden(), c);
        } else {
          llamaBlock(hp, blk, h);
        }
      }
    }

    // q, k and v cut from c_attn; q's and k's rows permuted from rotate-half (ours, Hugging
    // Face's) to llama.cpp's rotation of adjacent pairs, as convert_hf_to_gguf.py permutes them
    private void llamaBlock(HParams hp, String blk, String h) {
      int c = hp.nEmbd();
      int d = hp.headSize();
      int q = hp.nHead() * d;
      int kv = hp.nKvHead() * d;
      float[] qkv = // [W, C]: out by in
          Floats.transposed(weights.get(h + "attn/c_attn/w"), c, q + 2 * kv);
      put(blk + "attn_q.weight", pairs(rows(qkv, c, 0, q), hp.nHead(), d, c), q, c);
      put(blk + "attn_k.weight", pairs(rows(qkv, c, q, kv), hp.nKvHead(), d, c), kv, c);
      put(blk + "attn_v.weight", rows(qkv, c, q + kv, kv), kv, c);
      matrixT(blk + "attn_output.weight", h + "attn/c_proj/w", c, c);
      int f = hp.mlpHidden();
      if (!hp.arch().moe()) {
        matrixT(blk + "ffn_gate.weight", h + "mlp/c_gate/w", c, f);
        matrixT(blk + "ffn_up.weight", h + "mlp/c_fc/w", c, f);
        matrixT(blk + "ffn_down.weight", h + "mlp/c_proj/w", f, c);
        return;
      }
      int e = hp.arch().moeExperts();
      matrixT(blk + "ffn_gate_inp.weight", h + "mlp/router/w", c, e);
      experts(blk + "ffn_gate_exps.weight", h + "mlp/c_gate/w", e, c, f);
      experts(blk + "ffn_up_exps.weight", h + "mlp/c_fc/w", e, c, f);
      experts(blk + "ffn_down_exps.weight", h + "mlp/c_proj/w", e, f, c);
    }

    private void norm(String to, String from) {
      vector(to + ".weight", from + "/g");
      if (weights.containsKey(from + "/b")) {
        vector(to + ".bias", from + "/b");
      }
    }

    // a conv1d: w [1, in, out] -> [out, in], b [out]
    private void linear(String to, String from, int in, int out) {
      matrixT(to + ".weight", from + "/w", in, out);
      vector(to + ".bias", from + "/b");
    }

    private void matrix(String to, String from, int rows, int cols) {
      put(to, weights.get(from), rows, cols);
    }

    // [in, out] as stored -> [out, in]
    private void matrixT(String to, String from, int in, int out) {
      put(to, Floats.transposed(weights.get(from), in, out), out, in);
    }

    // [E, in, out] -> [E, out, in]: each expert's matrix transposed
    private void experts(String to, String from, int e, int in, int out) {
      float[] all = weights.get(from);
      float[] t = new float[all.length];
      int size = in * out;
      for (int x = 0; x < e; x++) {
        float[] one = Floats.transposed(Arrays.copyOfRange(all, x * size, (x + 1) * size), in, out);
        System.arraycopy(one, 0, t, x * size, size);
      }
      w.tensor(to, new long[] {e, out, in}, matrix, t);
    }

    private void put(String to, float[] values, int rows, int cols) {
      w.tensor(to, new long[] {rows, cols}, matrix, values);
    }

    private void vector(String to, String from) {
      float[] v = weights.get(from);
      w.tensor(to, new long[] {v.length}, GgufWriter.TensorType.F32, v);
    }
  }

  // rows [from, from + n) of m [.., cols]
  static float[] rows(float[] m, int cols, int from, int n) {
    return Arrays.copyOfRange(m, from * cols, (from + n) * cols);
  }

  /**
   * Rows [heads * d, cols] of a query or key projection, each head's rows reordered from
   * rotate-half (row i pairs with row i + d/2) to adjacent pairs (row 2j with row 2j + 1): row j of
   * the first half goes to 2j, row j of the second half to 2j + 1.
   */
  static float[] pairs(float[] m, int heads, int d, int cols) {
    float[] out = new float[m.length];
    int half = d / 2;
    for (int h = 0; h < heads; h++) {
      for (int j = 0; j < half; j++) {
        int base = h * d;
        System.arraycopy(m, (base + j) * cols, out, (base + 2 * j) * cols, cols);
        System.arraycopy(m, (base + half + j) * cols, out, (base + 2 * j + 1) * cols, cols);
      }
    }
    return out;
  }
}
