package dev.gpt2j.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** OpenAI's hparams.json: the shape of a GPT-2 model. */
public record HParams(
    @JsonProperty("n_vocab") int nVocab,
    @JsonProperty("n_ctx") int nCtx,
    @JsonProperty("n_embd") int nEmbd,
    @JsonProperty("n_head") int nHead,
    @JsonProperty("n_layer") int nLayer) {

  public static final int GPT2_VOCAB = 50257;
  public static final String FILE_NAME = "hparams.json";
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
      .enable(SerializationFeature.INDENT_OUTPUT);

  public HParams {
    positive("n_vocab", nVocab);
    positive("n_ctx", nCtx);
    positive("n_embd", nEmbd);
    positive("n_head", nHead);
    positive("n_layer", nLayer);
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
    long perLayer = 2 * 2 * e                 // ln_1, ln_2
        + e * 3 * e + 3 * e                    // c_attn
        + e * e + e                            // attn c_proj
        + e * 4 * e + 4 * e                    // c_fc
        + 4 * e * e + e;                       // mlp c_proj
    return (long) nVocab * e + (long) nCtx * e + nLayer * perLayer + 2 * e;
  }

  public static HParams read(Path file) {
    try {
      return JSON.readValue(Files.readString(file), HParams.class);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(file + ": file not found (expected OpenAI's hparams.json)");
    } catch (ValueInstantiationException e) {
      throw new IllegalArgumentException(file + ": " + e.getCause().getMessage(), e);
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": not a valid hparams.json: " + firstLine(e), e);
    }
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this) + "\n";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String firstLine(Exception e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.getMessage() == null ? e.toString() : root.getMessage();
    return m.lines().findFirst().orElse(m);
  }
}
