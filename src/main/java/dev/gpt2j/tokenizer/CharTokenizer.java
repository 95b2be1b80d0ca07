package dev.gpt2j.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.TextFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A character vocabulary, as nanoGPT's shakespeare_char prepare.py builds it: the text's distinct
 * characters (code points) sorted, id i the i-th. Kept beside the data and the model as {@code
 * chars.json}, a JSON array whose element i is the string of id i.
 */
public final class CharTokenizer implements Tokenizer {
  public static final String FILE_NAME = "chars.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final int[] codePoints;
  private final Map<Integer, Integer> ids = new HashMap<>();

  private CharTokenizer(int[] codePoints) {
    this.codePoints = codePoints;
    for (int i = 0; i < codePoints.length; i++) {
      ids.put(codePoints[i], i);
    }
  }

  /** The vocabulary of {@code text}'s distinct characters, sorted by code point. */
  public static CharTokenizer of(String text) {
    return new CharTokenizer(text.codePoints().distinct().sorted().toArray());
  }

  /** Reads chars.json; an error names the file and what is wrong. */
  public static CharTokenizer read(Path file) {
    String text = TextFiles.readUtf8(file, "the character vocabulary");
    JsonNode tree;
    try {
      tree = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
    }
    if (tree == null || !tree.isArray() || tree.isEmpty()) {
      throw new IllegalArgumentException(file + ": expected a JSON array of one-character strings");
    }
    int[] cps = new int[tree.size()];
    for (int i = 0; i < cps.length; i++) {
      JsonNode n = tree.get(i);
      if (!n.isTextual() || n.textValue().codePointCount(0, n.textValue().length()) != 1) {
        throw new IllegalArgumentException(
            file + ": element " + i + " must be a string of one character, got " + n);
      }
      cps[i] = n.textValue().codePointAt(0);
    }
    if (Arrays.stream(cps).distinct().count() != cps.length) {
      throw new IllegalArgumentException(file + ": a character appears twice");
    }
    return new CharTokenizer(cps);
  }

  /** Writes chars.json into {@code dir} (atomically). */
  public void write(Path dir) {
    String[] chars = Arrays.stream(codePoints).mapToObj(Character::toString).toArray(String[]::new);
    try {
      AtomicFiles.writeString(dir.resolve(FILE_NAME), JSON.writeValueAsString(chars) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(dir.resolve(FILE_NAME) + ": " + e.getMessage(), e);
    }
  }

  /** The ids of {@code text}; a character outside the vocabulary is refused, naming it. */
  @Override
  public int[] encode(String text) {
    int[] cps = text.codePoints().toArray();
    int[] out = new int[cps.length];
    for (int i = 0; i < cps.length; i++) {
      Integer id = ids.get(cps[i]);
      if (id == null) {
        throw new IllegalArgumentException(
            String.format(
                "character '%s' (U+%04X) at position %d is not in the model's %s",
                Character.toString(cps[i]), cps[i], i, FILE_NAME));
      }
      out[i] = id;
    }
    return out;
  }

  @Override
  public byte[] decodeBytes(int... ids) {
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      if (id < 0 || id >= codePoints.length) {
        throw new IllegalArgumentException(
            "token id " + id + " is outside the character vocabulary [0, " + size() + ")");
      }
      sb.appendCodePoint(codePoints[id]);
    }
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public OptionalInt endOfText() {
    return OptionalInt.empty();
  }

  @Override
  public int size() {
    return codePoints.length;
  }
}
