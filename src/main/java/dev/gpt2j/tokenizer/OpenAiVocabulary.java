package dev.gpt2j.tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * OpenAI's two tokenizer files, {@code encoder.json} and {@code vocab.bpe}, written out from the
 * ranks JTokkit ships for r50k_base, so that every model directory we write carries them (as
 * openai/gpt-2's {@code sample.py} expects) without the project shipping OpenAI's files.
 *
 * <p>r50k_base's rank of a byte string is its GPT-2 id. Each merge of vocab.bpe is recovered as
 * tiktoken's converters do: the token of rank r is the merge of the two parts that BPE with only
 * the ranks below r splits its bytes into, and the merges are listed in rank order.
 */
public final class OpenAiVocabulary {
  private static final String RANKS = "/com/knuddels/jtokkit/r50k_base.tiktoken";
  private static final String END_OF_TEXT = "<|endoftext|>";

  private OpenAiVocabulary() {}

  private static final class Ranks {
    // byte strings as ISO-8859-1 strings (one char per byte), in rank order
    static final List<String> TOKENS = read();
    static final Map<String, Integer> RANK = new HashMap<>();

    static {
      for (int i = 0; i < TOKENS.size(); i++) {
        RANK.put(TOKENS.get(i), i);
      }
    }
  }

  private static final class Files {
    static final List<String> TOKENS = buildTokens();
    static final List<String> MERGES = buildMerges();
    static final byte[] ENCODER_JSON = buildEncoderJson();
    static final byte[] VOCAB_BPE = buildVocabBpe();
  }

  /**
   * GPT-2's tokens by id, as encoder.json spells them (bytes_to_unicode's visible characters),
   * {@code <|endoftext|>} last.
   */
  public static List<String> tokens() {
    return Files.TOKENS;
  }

  /** vocab.bpe's merges in rank order, each "left right". */
  public static List<String> merges() {
    return Files.MERGES;
  }

  /** encoder.json as OpenAI's file has it: ids in order, Python's json.dump escapes. */
  public static byte[] encoderJson() {
    return Files.ENCODER_JSON.clone();
  }

  /** vocab.bpe as OpenAI's file has it: a version line, then one merge per line in rank order. */
  public static byte[] vocabBpe() {
    return Files.VOCAB_BPE.clone();
  }

  private static List<String> buildTokens() {
    List<String> tokens = new ArrayList<>();
    for (String bytes : Ranks.TOKENS) {
      tokens.add(visible(bytes));
    }
    tokens.add(END_OF_TEXT);
    return List.copyOf(tokens);
  }

  private static List<String> buildMerges() {
    List<String> merges = new ArrayList<>();
    for (int rank = 256; rank < Ranks.TOKENS.size(); rank++) {
      List<String> parts = split(Ranks.TOKENS.get(rank), rank);
      if (parts.size() != 2) {
        throw new IllegalStateException(
            "r50k_base token " + rank + " is not one merge of two parts");
      }
      merges.add(visible(parts.get(0)) + ' ' + visible(parts.get(1)));
    }
    return List.copyOf(merges);
  }

  private static byte[] buildEncoderJson() {
    StringBuilder json = new StringBuilder("{");
    for (int id = 0; id < Files.TOKENS.size(); id++) {
      json.append(id == 0 ? "" : ", ").append(quote(Files.TOKENS.get(id))).append(": ").append(id);
    }
    return json.append('}').toString().getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] buildVocabBpe() {
    StringBuilder bpe = new StringBuilder("#version: 0.2\n");
    for (String merge : Files.MERGES) {
      bpe.append(merge).append('\n');
    }
    return bpe.toString().getBytes(StandardCharsets.UTF_8);
  }

  // BPE of `token` using only ranks below maxRank: merge the lowest-ranked adjacent pair until none
  private static List<String> split(String token, int maxRank) {
    List<String> parts = new ArrayList<>();
    for (char c : token.toCharArray()) {
      parts.add(String.valueOf(c));
    }
    while (true) {
      int best = -1;
      int bestRank = maxRank;
      for (int i = 0; i + 1 < parts.size(); i++) {
        Integer r = Ranks.RANK.get(parts.get(i) + parts.get(i + 1));
        if (r != null && r < bestRank) {
          best = i;
          bestRank = r;
        }
      }
      if (best < 0) {
        return parts;
      }
      parts.set(best, parts.get(best) + parts.remove(best + 1));
    }
  }

  // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest for 256 + n
  private static String visible(String bytes) {
    StringBuilder s = new StringBuilder();
    for (char b : bytes.toCharArray()) {
      s.append(BYTE_CHARS[b]);
    }
    return s.toString();
  }

  private static final char[] BYTE_CHARS = byteChars();

  private static char[] byteChars() {
    char[] chars = new char[256];
    int extra = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      chars[b] = (char) (printable ? b : 256 + extra++);
    }
    return chars;
  }

  // Python's json.dumps of a str with ensure_ascii: \" and \\, and \\uXXXX outside ' '..'~'
  private static String quote(String s) {
    StringBuilder q = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        q.append('\\').append(c);
      } else if (c >= ' ' && c <= '~') {
        q.append(c);
      } else {
        q.append(String.format("\\u%04x", (int) c));
      }
    }
    return q.append('"').toString();
  }

  private static List<String> read() {
    List<String> tokens = new ArrayList<>();
    try (InputStream in = OpenAiVocabulary.class.getResourceAsStream(RANKS)) {
      if (in == null) {
        throw new IllegalStateException(RANKS + " is missing from JTokkit's jar");
      }
      BufferedReader lines =
          new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
      for (String line; (line = lines.readLine()) != null; ) {
        String[] f = line.split(" ");
        if (Integer.parseInt(f[1]) != tokens.size()) {
          throw new IllegalStateException(RANKS + ": ranks are not consecutive at " + f[1]);
        }
        tokens.add(new String(Base64.getDecoder().decode(f[0]), StandardCharsets.ISO_8859_1));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return tokens;
  }
}
