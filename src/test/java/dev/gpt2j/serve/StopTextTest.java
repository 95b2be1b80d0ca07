package dev.gpt2j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A row's text as its tokens arrive, against the whole text decoded at once and cut at the first
 * stop by String.indexOf: tokens split at random bytes (inside characters too), stops straddling
 * them.
 */
class StopTextTest {
  private static final String TEXT = "Ünïcödé 日本語 and emoji 😀 then STOP here, or élan, END.";

  @Test
  void streamedTextIsAlwaysAPrefixOfTheTextCutAtTheFirstStop() {
    List<List<String>> stopSets =
        List.of(List.of(), List.of("STOP"), List.of("élan", "日本"), List.of("😀 th", "zz"));
    Random random = new Random(7);
    byte[] bytes = TEXT.getBytes(StandardCharsets.UTF_8);
    for (List<String> stops : stopSets) {
      String expected = TEXT.substring(0, firstStop(TEXT, stops));
      for (int trial = 0; trial < 50; trial++) {
        StopText text = new StopText(stops);
        int at = 0;
        while (at < bytes.length && !text.stopped()) {
          int end = Math.min(bytes.length, at + 1 + random.nextInt(5));
          text.append(Arrays.copyOfRange(bytes, at, end));
          at = end;
          String sent = text.substring(0, text.safeLength());
          assertTrue(
              expected.startsWith(sent), "sent '" + sent + "', not a prefix of '" + expected + "'");
        }
        text.finish();
        assertEquals(expected, text.substring(0, text.safeLength()), "stops " + stops);
        assertEquals(
            expected.codePointCount(0, expected.length()),
            text.codePoints(text.safeLength()),
            "characters, not UTF-16 units");
      }
    }
  }

  private static int firstStop(String text, List<String> stops) {
    int first = text.length();
    for (String stop : stops) {
      int at = text.indexOf(stop);
      if (at >= 0) {
        first = Math.min(first, at);
      }
    }
    return first;
  }
}
