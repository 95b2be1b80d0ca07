package dev.gpt2j.serve;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A row's generated text as its tokens arrive: UTF-8 decoded (a token may end inside a character,
 * whose bytes wait for the next token), cut before the first stop string, which may straddle
 * tokens. While streaming, {@link #safeLength} holds back only what could still change: an
 * unfinished character, or a tail that could begin a stop string.
 */
final class StopText {
  private final List<String> stops;
  private final StringBuilder text = new StringBuilder();
  private final ByteArrayOutputStream unfinished = new ByteArrayOutputStream();
  private int stopAt = -1;

  StopText(List<String> stops) {
    this.stops = stops;
  }

  /** Adds a token's bytes; returns where its text begins (chars into the text). */
  int append(byte[] bytes) {
    int offset = text.length();
    unfinished.writeBytes(bytes);
    byte[] all = unfinished.toByteArray();
    int complete = completeLength(all);
    text.append(new String(all, 0, complete, StandardCharsets.UTF_8));
    unfinished.reset();
    unfinished.write(all, complete, all.length - complete);
    findStop(offset);
    return offset;
  }

  /** The generation ends here: a character left unfinished becomes U+FFFD. */
  void finish() {
    if (unfinished.size() > 0) {
      int from = text.length();
      text.append(unfinished.toString(StandardCharsets.UTF_8));
      unfinished.reset();
      findStop(from);
    }
  }

  boolean stopped() {
    return stopAt >= 0;
  }

  /** How many chars of the text are final: before the stop, or not possibly part of one. */
  int safeLength() {
    return stopped() ? stopAt : text.length() - stopPrefixAtEnd();
  }

  /** How many chars the text has so far. */
  int length() {
    return text.length();
  }

  /** How many characters (code points, as OpenAI counts) the first {@code chars} chars hold. */
  int codePoints(int chars) {
    return text.codePointCount(0, chars);
  }

  /** The text up to {@code end} chars, from {@code from}. */
  String substring(int from, int end) {
    return text.substring(from, end);
  }

  // the earliest stop string, searched where the new text could complete one
  private void findStop(int newFrom) {
    if (stopped()) {
      return;
    }
    for (String stop : stops) {
      int at = text.indexOf(stop, Math.max(0, newFrom - stop.length() + 1));
      if (at >= 0 && (stopAt < 0 || at < stopAt)) {
        stopAt = at;
      }
    }
  }

  // the longest end of the text that is a proper beginning of a stop string
  private int stopPrefixAtEnd() {
    int longest = 0;
    for (String stop : stops) {
      for (int k = Math.min(stop.length() - 1, text.length()); k > longest; k--) {
        if (text.substring(text.length() - k).equals(stop.substring(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }

  // the bytes before a last character whose bytes have not all arrived
  private static int completeLength(byte[] b) {
    int lead = b.length - 1;
    while (lead >= 0 && lead > b.length - 4 && (b[lead] & 0xC0) == 0x80) {
      lead--; // continuation bytes, 10xxxxxx
    }
    if (lead < 0) {
      return 0;
    }
    int v = b[lead] & 0xFF;
    int needs = v >= 0xF0 ? 4 : v >= 0xE0 ? 3 : v >= 0xC0 ? 2 : 1;
    return lead + needs > b.length ? lead : b.length;
  }
}
