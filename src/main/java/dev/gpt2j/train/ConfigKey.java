package dev.gpt2j.train;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.DoublePredicate;
import java.util.function.Function;
import java.util.function.LongPredicate;
import java.util.stream.Collectors;

/**
 * One key of a training config: its snake_case name, how its text is read into a typed value (and
 * checked), its default and its help. {@link TrainKeys} is the table of them.
 */
public record ConfigKey(String name, Type type, String defaultText, String help) {

  /** How a key's text becomes its value, and its value text again. */
  public interface Type {
    /** The value of {@code text}; an error naming {@code key} and saying what was expected. */
    Object read(String key, String text);

    /** The text {@link #read} takes back to the same value. */
    default String write(Object value) {
      return String.valueOf(value);
    }
  }

  /** An int within the bounds {@code ok} checks, which {@code rule} ("> 0") describes. */
  static Type integer(LongPredicate ok, String rule) {
    return (key, text) -> {
      long v = parseLong(key, text);
      if (v != (int) v) {
        throw new IllegalArgumentException(key + " expects an integer, got '" + text + "'");
      }
      if (!ok.test(v)) {
        throw new IllegalArgumentException(key + " must be " + rule + ", got " + v);
      }
      return (int) v;
    };
  }

  /** A long, any value. */
  static Type longInteger() {
    return ConfigKey::parseLong;
  }

  /** A finite number within the bounds {@code ok} checks, which {@code rule} describes. */
  static Type number(DoublePredicate ok, String rule) {
    return (key, text) -> {
      double v;
      try {
        v = Double.parseDouble(text);
      } catch (NumberFormatException e) {
        v = Double.NaN;
      }
      if (!Double.isFinite(v)) {
        throw new IllegalArgumentException(key + " expects a number, got '" + text + "'");
      }
      if (!ok.test(v)) {
        throw new IllegalArgumentException(key + " must be " + rule + ", got " + format(v));
      }
      return v;
    };
  }

  /** true or false, in any case. */
  static Type bool() {
    return (key, text) -> {
      String s = text.toLowerCase(Locale.ROOT);
      if (!s.equals("true") && !s.equals("false")) {
        throw new IllegalArgumentException(key + " expects true or false, got '" + text + "'");
      }
      return Boolean.parseBoolean(s);
    };
  }

  /** Text, with Java's \n and \t escapes read as a newline and a tab. */
  static Type text() {
    return new Type() {
      @Override
      public Object read(String key, String text) {
        return text.replace("\\n", "\n").replace("\\t", "\t");
      }

      @Override
      public String write(Object value) {
        return ((String) value).replace("\n", "\\n").replace("\t", "\\t");
      }
    };
  }

  /** One of {@code type}'s constants, by {@code label} (in any case). */
  static <E extends Enum<E>> Type choice(Class<E> type, Function<E, String> label) {
    E[] all = type.getEnumConstants();
    return new Type() {
      @Override
      public Object read(String key, String text) {
        return Arrays.stream(all)
            .filter(e -> label.apply(e).equalsIgnoreCase(text))
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        key + " must be " + alternatives() + ", got '" + text + "'"));
      }

      @Override
      @SuppressWarnings("unchecked")
      public String write(Object value) {
        return label.apply((E) value);
      }

      private String alternatives() {
        String[] labels = Arrays.stream(all).map(label).toArray(String[]::new);
        return labels.length == 2
            ? labels[0] + " or " + labels[1]
            : Arrays.stream(labels, 0, labels.length - 1).collect(Collectors.joining(", "))
                + " or "
                + labels[labels.length - 1];
      }
    };
  }

  /**
   * Any value {@code read} makes of the text (null for an empty text), written back by {@code
   * write}.
   */
  static <T> Type of(Function<String, T> read, Function<T, String> write) {
    return new Type() {
      @Override
      public Object read(String key, String text) {
        return text.isEmpty() ? null : read.apply(text);
      }

      @Override
      @SuppressWarnings("unchecked")
      public String write(Object value) {
        return value == null ? "" : write.apply((T) value);
      }
    };
  }

  private static long parseLong(String key, String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " expects an integer, got '" + text + "'");
    }
  }

  private static String format(double v) {
    return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
  }
}
