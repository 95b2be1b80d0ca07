package dev.gpt2j.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.LogitsSampler;
import dev.gpt2j.tokenizer.Tokenizer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@code POST /v1/completions} body, checked: every prompt as tokens, and how to sample after
 * each. Defaults are OpenAI's (max_tokens 16, temperature 1, top_p 1, n 1); {@code top_k} is an
 * extension (0 = off).
 */
record CompletionRequest(
    String model,
    List<int[]> prompts,
    int maxTokens,
    LogitsSampler sampler,
    int n,
    Long seed,
    List<String> stops,
    boolean stream,
    boolean includeUsage,
    Integer logprobs,
    boolean echo) {

  static final int MAX_STOPS = 4;
  static final int MAX_LOGPROBS = 5;
  static final int MAX_N = 128;

  private static final Set<String> KNOWN =
      Set.of(
          "model",
          "prompt",
          "max_tokens",
          "temperature",
          "top_p",
          "top_k",
          "n",
          "seed",
          "stop",
          "stream",
          "stream_options",
          "logprobs",
          "echo",
          "presence_penalty",
          "frequency_penalty",
          "user",
          "best_of",
          "logit_bias",
          "suffix");

  // one JSON value and nothing after it: trailing bytes are a malformed body, not ignored
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The rows it asks for: n after each prompt. */
  int rows() {
    return prompts.size() * n;
  }

  /** The body's bytes read as one JSON object, then checked as {@link #parse} does. */
  static CompletionRequest read(byte[] body, Tokenizer tokenizer, HParams hp) {
    JsonNode json;
    try {
      json = JSON.readTree(body);
    } catch (IOException e) {
      String why = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
      throw ApiError.invalid(null, "the body is not valid JSON: " + why);
    }
    return parse(json, tokenizer, hp);
  }

  static CompletionRequest parse(JsonNode body, Tokenizer tokenizer, HParams hp) {
    if (body == null || !body.isObject()) {
      throw ApiError.invalid(null, "the request body must be a JSON object");
    }
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!KNOWN.contains(key)) {
        throw ApiError.invalid(key, "Unrecognized request argument supplied: " + key);
      }
    }
    unsupported(body, "best_of", 1);
    if (body.hasNonNull("suffix")) {
      throw ApiError.invalid("suffix", "suffix is not supported by this model");
    }
    text(body, "user"); // OpenAI's end-user id: checked, not used
    String model = text(body, "model");
    if (model == null) {
      throw ApiError.invalid("model", "you must provide a model parameter");
    }
    List<int[]> prompts = prompts(body.get("prompt"), tokenizer, hp);
    // 0 asks for no tokens: with echo, the prompt's logprobs alone (how harnesses score text)
    int maxTokens = integer(body, "max_tokens", 16);
    if (maxTokens < 0) {
      throw ApiError.invalid("max_tokens", "max_tokens must be at least 0, got " + maxTokens);
    }
    for (int[] p : prompts) {
      if (p.length + maxTokens > hp.nCtx()) {
        throw new ApiError(
            400,
            "invalid_request_error",
            "max_tokens",
            "context_length_exceeded",
            "This model's maximum context length is "
                + hp.nCtx()
                + " tokens, however you requested "
                + (p.length + maxTokens)
                + " tokens ("
                + p.length
                + " in your prompt; "
                + maxTokens
                + " for the completion). Please reduce your prompt; or completion length.");
      }
    }
    int n = integer(body, "n", 1);
    if (n < 1 || n > MAX_N) {
      throw ApiError.invalid("n", "n must be between 1 and " + MAX_N + ", got " + n);
    }
    Integer logprobs = body.hasNonNull("logprobs") ? integer(body, "logprobs", 0) : null;
    if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
      throw ApiError.invalid(
          "logprobs", "logprobs must be between 0 and " + MAX_LOGPROBS + ", got " + logprobs);
    }
    LogitsSampler sampler;
    try {
      sampler =
          new LogitsSampler(
              range(body, "temperature", 1, 0, 2),
              integer(body, "top_k", 0),
              number(body, "top_p", 1),
              range(body, "presence_penalty", 0, -2, 2),
              range(body, "frequency_penalty", 0, -2, 2),
              logitBias(body.get("logit_bias"), hp));
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid(e.getMessage().split(" ")[0], e.getMessage());
    }
    return new CompletionRequest(
        model,
        prompts,
        maxTokens,
        sampler,
        n,
        seed(body.get("seed")),
        stops(body.get("stop")),
        bool(body, "stream"),
        includeUsage(body.get("stream_options"), bool(body, "stream")),
        logprobs,
        bool(body, "echo"));
  }

  private static List<int[]> prompts(JsonNode p, Tokenizer tokenizer, HParams hp) {
    List<int[]> prompts = new ArrayList<>();
    if (p == null || p.isNull()) {
      throw ApiError.invalid("prompt", "you must provide a prompt");
    } else if (p.isTextual()) {
      prompts.add(encode(tokenizer, p.asText()));
    } else if (p.isArray() && !p.isEmpty() && p.get(0).isIntegralNumber()) {
      prompts.add(tokens(p, hp));
    } else if (p.isArray() && !p.isEmpty()) {
      for (JsonNode one : p) {
        if (one.isTextual()) {
          prompts.add(encode(tokenizer, one.asText()));
        } else if (one.isArray()) {
          prompts.add(tokens(one, hp));
        } else {
          throw ApiError.invalid(
              "prompt",
              "prompt must be a string, an array of strings, an array of token ids,"
                  + " or an array of arrays of token ids");
        }
      }
    } else {
      throw ApiError.invalid(
          "prompt",
          "prompt must be a string, an array of strings, an array of token ids,"
              + " or an array of arrays of token ids");
    }
    for (int[] tokens : prompts) {
      if (tokens.length == 0) {
        throw ApiError.invalid("prompt", "a prompt is empty: it needs at least one token");
      }
    }
    return prompts;
  }

  // a character model refuses text with characters outside its vocabulary
  private static int[] encode(Tokenizer tokenizer, String text) {
    try {
      return tokenizer.encode(text);
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid("prompt", e.getMessage());
    }
  }

  private static int[] tokens(JsonNode array, HParams hp) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode t = array.get(i);
      // exactly: 2^64 is no id, though it reads as 0 when cut to a long
      if (!t.isIntegralNumber()
          || !t.canConvertToInt()
          || t.intValue() < 0
          || t.intValue() >= hp.nVocab()) {
        throw ApiError.invalid(
            "prompt",
            "token ids must be integers in [0, " + hp.nVocab() + "), got " + t.toString());
      }
      out[i] = t.asInt();
    }
    return out;
  }

  // stream_options: {"include_usage": true} adds a last chunk with the usage and no choices
  private static boolean includeUsage(JsonNode v, boolean stream) {
    if (v == null || v.isNull()) {
      return false;
    }
    if (!stream) {
      throw ApiError.invalid(
          "stream_options", "stream_options is only allowed when stream is true");
    }
    if (!v.isObject()) {
      throw ApiError.invalid("stream_options", "stream_options must be an object, got " + v);
    }
    JsonNode usage = v.get("include_usage");
    if (usage != null && !usage.isNull() && !usage.isBoolean()) {
      throw ApiError.invalid(
          "stream_options", "stream_options.include_usage must be true or false, got " + usage);
    }
    return usage != null && usage.asBoolean();
  }

  // logit_bias: {"token id": bias in [-100, 100]}; -100 bans the token
  private static Map<Integer, Float> logitBias(JsonNode v, HParams hp) {
    Map<Integer, Float> bias = new HashMap<>();
    if (v == null || v.isNull()) {
      return bias;
    }
    if (!v.isObject()) {
      throw ApiError.invalid(
          "logit_bias", "logit_bias must be an object of token ids to biases, got " + v);
    }
    int bans = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = tokenId(e.getKey(), hp);
      JsonNode b = e.getValue();
      if (!b.isNumber()
          || !(b.asDouble() >= LogitsSampler.BAN && b.asDouble() <= -LogitsSampler.BAN)) {
        throw ApiError.invalid(
            "logit_bias",
            "logit_bias values must be numbers in [-100, 100], got " + b + " for " + id);
      }
      bias.put(id, b.floatValue());
      bans += b.floatValue() <= LogitsSampler.BAN ? 1 : 0;
    }
    if (bans >= hp.nVocab()) {
      throw ApiError.invalid("logit_bias", "logit_bias bans every token: nothing could be sampled");
    }
    return bias;
  }

  // a logit_bias key: a token id written as a decimal integer, in the vocabulary
  private static int tokenId(String key, HParams hp) {
    int id;
    try {
      id = Integer.parseInt(key);
    } catch (NumberFormatException e) {
      id = -1;
    }
    if (id < 0 || id >= hp.nVocab() || !key.equals(Integer.toString(id))) {
      throw ApiError.invalid(
          "logit_bias",
          "logit_bias keys must be token ids in [0, " + hp.nVocab() + "), got \"" + key + "\"");
    }
    return id;
  }

  private static Long seed(JsonNode v) {
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw ApiError.invalid("seed", "seed must be an integer, got " + v);
    }
    return v.asLong();
  }

  private static List<String> stops(JsonNode s) {
    List<String> stops = new ArrayList<>();
    if (s == null || s.isNull()) {
      return stops;
    }
    if (s.isTextual()) {
      stops.add(s.asText());
    } else if (s.isArray()) {
      for (JsonNode one : s) {
        if (!one.isTextual()) {
          throw ApiError.invalid("stop", "stop must be a string or an array of strings");
        }
        stops.add(one.asText());
      }
    } else {
      throw ApiError.invalid("stop", "stop must be a string or an array of strings");
    }
    if (stops.size() > MAX_STOPS) {
      throw ApiError.invalid(
          "stop", "at most " + MAX_STOPS + " stop sequences, got " + stops.size());
    }
    if (stops.stream().anyMatch(String::isEmpty)) {
      throw ApiError.invalid("stop", "a stop sequence is empty");
    }
    return stops;
  }

  private static void unsupported(JsonNode body, String key, int only) {
    if (body.hasNonNull(key) && integer(body, key, only) != only) {
      throw ApiError.invalid(key, key + " other than " + only + " is not supported");
    }
  }

  private static String text(JsonNode body, String key) {
    JsonNode v = body.get(key);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw ApiError.invalid(key, key + " must be a string, got " + v);
    }
    return v.asText();
  }

  private static boolean bool(JsonNode body, String key) {
    JsonNode v = body.get(key);
    if (v == null || v.isNull()) {
      return false;
    }
    if (!v.isBoolean()) {
      throw ApiError.invalid(key, key + " must be true or false, got " + v);
    }
    return v.asBoolean();
  }

  private static int integer(JsonNode body, String key, int fallback) {
    JsonNode v = body.get(key);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      throw ApiError.invalid(key, key + " must be an integer, got " + v);
    }
    return v.asInt();
  }

  private static double number(JsonNode body, String key, double fallback) {
    JsonNode v = body.get(key);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isNumber()) {
      throw ApiError.invalid(key, key + " must be a number, got " + v);
    }
    return v.asDouble();
  }

  private static double range(JsonNode body, String key, double fallback, double lo, double hi) {
    double v = number(body, key, fallback);
    if (v < lo || v > hi) {
      throw ApiError.invalid(key, key + " must be between " + lo + " and " + hi + ", got " + v);
    }
    return v;
  }
}
