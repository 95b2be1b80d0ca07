package dev.gpt2j.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/** OpenAI's hparams.json: the shape of a GPT-2 model. */
public record HParams(
    @JsonProperty("n_vocab") int nVocab,
    @JsonProperty("n_ctx") int nCtx,
    @JsonProperty("n_embd") int nEmbd,
    @JsonProperty("n_head") int nHead,
    @JsonProperty("n_layer") int nLayer) {

  public static final int GPT2_VOCAB = 50257;
  public static final String FILE_NAME = "hparams.json";
  private static final List<String> KEYS =
      List.of("n_vocab", "n_ctx", "n_embd", "n_head", "n_layer");
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

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
  }

  private static void positive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " must be positive, got " + value);
    }
  }

  /** Size of one attention head. */
  public int headSize() {
    return nEmbd / nHead;
  }

  /** Number of trainable parameters (the output head is tied to wte). */
  public long parameterCount() {
    long e = nEmbd;
    long perLayer =
        2 * 2 * e // ln_1, ln_2
            + e * 3 * e
            + 3 * e // c_attn
            + e * e
            + e // attn c_proj
            + e * 4 * e
            + 4 * e // c_fc
            + 4 * e * e
            + e; // mlp c_proj
    return (long) nVocab * e + (long) nCtx * e + nLayer * perLayer + 2 * e;
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
    return new HParams(v[0], v[1], v[2], v[3], v[4]);
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this) + "\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
