package dev.gpt2j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * What a block is made of, beyond GPT-2's five sizes: the norm, the MLP, positions, key/value
 * heads, biases and experts. {@link #GPT2} is OpenAI's GPT-2; every other value is one of the
 * family trained from scratch (nanoGPT without biases, LLaMA-style blocks, mixture-of-experts).
 *
 * @param mlpHidden width of the MLP's hidden layer; 0 = the default of {@code mlp} ({@link
 *     HParams#mlpHidden})
 * @param nKvHead key/value heads; 0 = one per query head ({@link HParams#nKvHead})
 * @param moeExperts experts per MLP; 0 = a dense MLP
 * @param moeTopK experts each token is routed to
 */
public record Architecture(
    Norm norm,
    Mlp mlp,
    int mlpHidden,
    Position position,
    double ropeTheta,
    int nKvHead,
    boolean bias,
    int moeExperts,
    int moeTopK) {

  public enum Norm {
    LAYERNORM,
    RMSNORM
  }

  public enum Mlp {
    GELU,
    RELU,
    SWIGLU
  }

  public enum Position {
    LEARNED,
    ROPE
  }

  // moe_top_k's default, the only value a dense model (moe_experts 0) holds
  private static final int DENSE_TOP_K = 2;

  public static final Architecture GPT2 =
      new Architecture(
          Norm.LAYERNORM, Mlp.GELU, 0, Position.LEARNED, 10000, 0, true, 0, DENSE_TOP_K);

  public Architecture {
    if (mlpHidden < 0) {
      throw new IllegalArgumentException(
          "mlp_hidden must be positive, or 0 for the MLP's default width, got " + mlpHidden);
    }
    if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
      throw new IllegalArgumentException("rope_theta must be a positive number, got " + ropeTheta);
    }
    if (nKvHead < 0) {
      throw new IllegalArgumentException(
          "n_kv_head must be positive, or 0 for one per query head, got " + nKvHead);
    }
    if (moeExperts == 1 || moeExperts < 0) {
      throw new IllegalArgumentException(
          "moe_experts must be 0 (a dense MLP) or at least 2, got " + moeExperts);
    }
    if (moeExperts == 0 && moeTopK != DENSE_TOP_K) { // written nowhere, so it would be lost
      throw new IllegalArgumentException(
          "moe_top_k applies to a mixture of experts only; set moe_experts (>= 2) too, or leave"
              + " moe_top_k out (got moe_top_k "
              + moeTopK
              + " with a dense MLP)");
    }
    if (moeTopK < 1 || (moeExperts > 0 && moeTopK > moeExperts)) {
      throw new IllegalArgumentException(
          "moe_top_k must be between 1 and moe_experts (" + moeExperts + "), got " + moeTopK);
    }
  }

  /** Whether the MLPs are mixtures of experts. */
  public boolean moe() {
    return moeExperts > 0;
  }

  /**
   * One key of hparams.json beyond OpenAI's five: its name, how to read it from JSON (null when the
   * JSON type is wrong) and from text (a config or an option), and its value in an architecture.
   */
  private record Key(
      String name,
      String expected,
      Function<JsonNode, Object> fromJson,
      Function<String, Object> fromText,
      Function<Architecture, Object> get) {}

  private static final List<Key> KEYS =
      List.of(
          choice("norm", Norm.class, Architecture::norm),
          choice("mlp", Mlp.class, Architecture::mlp),
          integer("mlp_hidden", Architecture::mlpHidden),
          choice("position", Position.class, Architecture::position),
          new Key(
              "rope_theta",
              "a number",
              n -> n.isNumber() ? n.doubleValue() : null,
              Double::valueOf,
              Architecture::ropeTheta),
          integer("n_kv_head", Architecture::nKvHead),
          new Key(
              "bias",
              "true or false",
              n -> n.isBoolean() ? n.booleanValue() : null,
              s -> s.equals("true") ? Boolean.TRUE : s.equals("false") ? Boolean.FALSE : null,
              Architecture::bias),
          integer("moe_experts", Architecture::moeExperts),
          integer("moe_top_k", Architecture::moeTopK));

  /** The names of the keys hparams.json may hold beyond OpenAI's five. */
  public static List<String> keys() {
    return KEYS.stream().map(Key::name).toList();
  }

  /** The text form of key {@code name}'s value in this architecture (as a config writes it). */
  public String text(String name) {
    Object v = key(name).get.apply(this);
    return v instanceof Enum<?> e ? e.name().toLowerCase(Locale.ROOT) : String.valueOf(v);
  }

  /**
   * The architecture with {@code values} (key name to its text) over GPT-2's; an
   * IllegalArgumentException names the key whose value is wrong.
   */
  public static Architecture fromText(Map<String, String> values) {
    Map<String, Object> typed = new LinkedHashMap<>();
    values.forEach((name, text) -> typed.put(name, parse(key(name), text)));
    return of(typed);
  }

  /**
   * {@code text} as key {@code name}'s value, trimmed, once it reads as one (an
   * IllegalArgumentException says what the key expects); whether it fits the other keys is checked
   * when the architecture is built.
   */
  public static String checkText(String name, String text) {
    parse(key(name), text);
    return text.trim();
  }

  private static Object parse(Key k, String text) {
    Object v;
    try {
      v = k.fromText.apply(text.trim().toLowerCase(Locale.ROOT)); // one rule: any case
    } catch (IllegalArgumentException e) {
      v = null;
    }
    return require(k, v, "'" + text + "'");
  }

  /** Reads the keys of {@code json} that are not OpenAI's five (those are skipped). */
  static Architecture fromJson(JsonNode json, List<String> openAiKeys) {
    Map<String, Object> typed = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) json::fields) {
      if (!openAiKeys.contains(e.getKey())) {
        Key k = key(e.getKey());
        typed.put(k.name, require(k, k.fromJson.apply(e.getValue()), e.getValue().toString()));
      }
    }
    return of(typed);
  }

  /** Adds to {@code json} each key whose value is not GPT-2's (JSON-typed). */
  void addTo(ObjectNode json) {
    for (Key k : KEYS) {
      Object v = k.get.apply(this);
      if (!v.equals(k.get.apply(GPT2))) {
        JsonNodeFactory nodes = JsonNodeFactory.instance;
        json.set(
            k.name,
            v instanceof Integer i
                ? nodes.numberNode(i)
                : v instanceof Double d
                    ? nodes.numberNode(d)
                    : v instanceof Boolean b ? nodes.booleanNode(b) : nodes.textNode(text(k.name)));
      }
    }
  }

  /** The same with {@code mlpHidden} and {@code nKvHead} as given (0 = the default). */
  Architecture withSizes(int mlpHidden, int nKvHead) {
    return new Architecture(
        norm, mlp, mlpHidden, position, ropeTheta, nKvHead, bias, moeExperts, moeTopK);
  }

  // the keys' typed values by name, GPT-2's where a key is absent
  private static Architecture of(Map<String, Object> typed) {
    Function<String, Object> v = name -> typed.getOrDefault(name, key(name).get.apply(GPT2));
    return new Architecture(
        (Norm) v.apply("norm"),
        (Mlp) v.apply("mlp"),
        (Integer) v.apply("mlp_hidden"),
        (Position) v.apply("position"),
        (Double) v.apply("rope_theta"),
        (Integer) v.apply("n_kv_head"),
        (Boolean) v.apply("bias"),
        (Integer) v.apply("moe_experts"),
        (Integer) v.apply("moe_top_k"));
  }

  private static Key key(String name) {
    return KEYS.stream()
        .filter(k -> k.name.equals(name))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "unknown key \""
                        + name
                        + "\": a model's keys are n_vocab, n_ctx, n_embd, n_head, n_layer, "
                        + String.join(", ", keys())));
  }

  private static Object require(Key k, Object value, String got) {
    if (value == null) {
      throw new IllegalArgumentException(
          "\"" + k.name + "\" must be " + k.expected + ", got " + got);
    }
    return value;
  }

  private static <E extends Enum<E>> Key choice(
      String name, Class<E> type, Function<Architecture, Object> get) {
    List<String> labels =
        java.util.Arrays.stream(type.getEnumConstants())
            .map(e -> e.name().toLowerCase(Locale.ROOT))
            .toList();
    Function<String, Object> parse =
        s -> labels.contains(s) ? Enum.valueOf(type, s.toUpperCase(Locale.ROOT)) : null;
    return new Key(
        name,
        "one of " + String.join(", ", labels),
        n -> n.isTextual() ? parse.apply(n.textValue()) : null,
        parse,
        get);
  }

  private static Key integer(String name, Function<Architecture, Object> get) {
    return new Key(
        name,
        "an integer",
        n -> n.isIntegralNumber() && n.canConvertToInt() ? n.intValue() : null,
        Integer::valueOf,
        get);
  }
}
