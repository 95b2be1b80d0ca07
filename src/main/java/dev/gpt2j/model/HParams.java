package dev.gpt2j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenAI's hparams.json: the shape of a GPT-2 model, and (for the rest of the family) its {@link
 * Architecture}, whose keys the file holds only where they differ from GPT-2's.
 */
public record HParams(int nVocab, int nCtx, int nEmbd, int nHead, int nLayer, Architecture arch) {

  public static final int GPT2_VOCAB = 50257;
  public static final String FILE_NAME = "hparams.json";
  private static final List<String> KEYS =
      List.of("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer");
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** OpenAI's GPT-2 of these sizes. */
  public HParams(int nVocab, int nCtx, int nEmbd, int nHead, int nLayer) {
    this(nVocab, nCtx, nEmbd, nHead, nLayer, Architecture.GPT2);
  }

  public HParams {
    positive("n_vocab", nVocab);
    positive("n_ctx", nCtx);
    positive("n_embd", nEmbd);
    positive("n_head", nHead);
    positive("n_layer", nLayer);
    if (nVocab > GPT2_VOCAB) {
      throw new IllegalArgumentException(
          "n_vocab ("
              + nVocab
              + ") exceeds GPT-2's tokenizer, which has "
              + GPT2_VOCAB
              + " ids: the extra rows could never be read or written");
    }
    if (nEmbd % nHead != 0) {
      throw new IllegalArgumentException(
          "n_embd (" + nEmbd + ") must be a multiple of n_head (" + nHead + ")");
    }
    if (arch.nKvHead() > 0 && nHead % arch.nKvHead() != 0) {
      throw new IllegalArgumentException(
          "n_kv_head (" + arch.nKvHead() + ") must divide n_head (" + nHead + ")");
    }
    if (arch.position() == Architecture.Position.ROPE && nEmbd / nHead % 2 != 0) {
      throw new IllegalArgumentException(
          "position=rope needs an even head size, but n_embd / n_head = " + nEmbd / nHead);
    }
    // the defaults stored as 0, so that equal models are equal records and write equal files
    int hidden = arch.mlpHidden() == defaultMlpHidden(arch.mlp(), nEmbd) ? 0 : arch.mlpHidden();
    int kvHeads = arch.nKvHead() == nHead ? 0 : arch.nKvHead();
    arch = arch.withSizes(hidden, kvHeads);
  }

  /** 4·n_embd, as GPT-2; for SwiGLU 2/3 of that rounded up to a multiple of 64, as LLaMA. */
  public static int defaultMlpHidden(Architecture.Mlp mlp, int nEmbd) {
    return mlp == Architecture.Mlp.SWIGLU ? 64 * ((8 * nEmbd / 3 + 63) / 64) : 4 * nEmbd;
  }

  /** Width of the MLP's hidden layer. */
  public int mlpHidden() {
    return arch.mlpHidden() > 0 ? arch.mlpHidden() : defaultMlpHidden(arch.mlp(), nEmbd);
  }

  /** Key/value heads of attention (n_head unless grouped-query). */
  public int nKvHead() {
    return arch.nKvHead() > 0 ? arch.nKvHead() : nHead;
  }

  private static void positive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " must be positive, got " + value);
    }
  }

  /** "n_layer 4, n_head 4, n_embd 128, n_ctx 64, n_vocab 65", then the keys not GPT-2's. */
  public String describe() {
    String sizes =
        String.format(
            "n_layer %d, n_head %d, n_embd %d, n_ctx %d, n_vocab %d",
            nLayer, nHead, nEmbd, nCtx, nVocab);
    String family = describeArchitecture();
    return family.isEmpty() ? sizes : sizes + ", " + family;
  }

  /** The keys whose values are not GPT-2's ("norm rmsnorm, mlp swiglu"); empty for GPT-2. */
  public String describeArchitecture() {
    List<String> differ = new ArrayList<>();
    for (String key : Architecture.keys()) {
      if (!arch.text(key).equals(Architecture.GPT2.text(key))) {
        differ.add(key + ' ' + arch.text(key));
      }
    }
    return String.join(", ", differ);
  }

  /** Size of one attention head. */
  public int headSize() {
    return nEmbd / nHead;
  }

  /** Number of trainable parameters (the output head is tied to wte). */
  public long parameterCount() {
    long e = nEmbd;
    long h = mlpHidden();
    long bias = arch.bias() ? 1 : 0;
    long normBias = arch.bias() && arch.norm() == Architecture.Norm.LAYERNORM ? 1 : 0;
    long norm = e * (1 + normBias);
    long qkv = (long) (nHead + 2 * nKvHead()) * headSize();
    long attn = e * qkv + bias * qkv + e * e + bias * e;
    long matrices = arch.mlp() == Architecture.Mlp.SWIGLU ? 3 : 2;
    long expert = matrices * e * h + bias * ((matrices - 1) * h + e);
    long mlp = arch.moe() ? arch.moeExperts() * (expert + e) : expert;
    long positions = arch.position() == Architecture.Position.LEARNED ? (long) nCtx * e : 0;
    return (long) nVocab * e + positions + nLayer * (2 * norm + attn + mlp) + norm;
  }

  /** Throws when a token id is outside [0, n_vocab): "{@code what} {id} is outside ...". */
  public void requireInVocabulary(int[] tokens, String what) {
    for (int t : tokens) {
      if (t < 0 || t >= nVocab) {
        throw new IllegalArgumentException(
            what + " " + t + " is outside the model's vocabulary [0, " + nVocab + ")");
      }
    }
  }

  /**
   * Parses OpenAI's hparams.json text; an IllegalArgumentException names the key that is missing or
   * wrong.
   */
  public static HParams fromJson(String json) {
    JsonNode tree;
    try {
      tree = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isObject()) {
      throw new IllegalArgumentException("expected a JSON object with " + String.join(", ", KEYS));
    }
    int[] v = new int[KEYS.size()];
    for (int i = 0; i < v.length; i++) {
      JsonNode n = tree.get(KEYS.get(i));
      if (n == null) {
        throw new IllegalArgumentException("missing key \"" + KEYS.get(i) + "\"");
      }
      if (!n.isIntegralNumber() || !n.canConvertToInt()) {
        throw new IllegalArgumentException("\"" + KEYS.get(i) + "\" must be an integer, got " + n);
      }
      v[i] = n.intValue();
    }
    return new HParams(v[0], v[1], v[2], v[3], v[4], Architecture.fromJson(tree, KEYS));
  }

  /** OpenAI's five keys, then those of {@link #arch} that are not GPT-2's. */
  public String toJson() {
    ObjectNode json = JSON.createObjectNode();
    json.put("n_vocab", nVocab).put("n_ctx", nCtx).put("n_embd", nEmbd);
    json.put("n_head", nHead).put("n_layer", nLayer);
    arch.addTo(json);
    try {
      return JSON.writeValueAsString(json) + "\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
