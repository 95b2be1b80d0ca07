package dev.gpt2j.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A straightforward reading of OpenAI's encoder.py over encoder.json and vocab.bpe. */
final class ReferenceBpe {
  private static final Pattern PAT =
      Pattern.compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  private final Map<String, Integer> encoder;
  private final Map<String, Integer> ranks = new HashMap<>();
  private final String[] byteToUnicode = new String[256];
  private final Map<String, List<String>> cache = new HashMap<>();

  ReferenceBpe(Path encoderJson, Path vocabBpe) throws IOException {
    encoder = new ObjectMapper().readValue(encoderJson.toFile(), new TypeReference<>() {});
    List<String> lines = Files.readAllLines(vocabBpe, StandardCharsets.UTF_8);
    for (int i = 1; i < lines.size(); i++) { // line 0 is "#version: 0.2"
      if (!lines.get(i).isEmpty()) {
        ranks.put(lines.get(i), i - 1);
      }
    }
    // bytes_to_unicode(): printable bytes map to themselves, the rest to 256 + n
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byteToUnicode[b] = new String(Character.toChars(printable ? b : 256 + n++));
    }
  }

  List<Integer> encode(String text) {
    List<Integer> ids = new ArrayList<>();
    Matcher m = PAT.matcher(text);
    while (m.find()) {
      StringBuilder token = new StringBuilder();
      for (byte b : m.group().getBytes(StandardCharsets.UTF_8)) {
        token.append(byteToUnicode[b & 0xFF]);
      }
      for (String piece : bpe(token.toString())) {
        ids.add(encoder.get(piece));
      }
    }
    return ids;
  }

  private List<String> bpe(String token) {
    List<String> cached = cache.get(token);
    if (cached != null) {
      return cached;
    }
    List<String> word = new ArrayList<>();
    token.codePoints().forEach(cp -> word.add(new String(Character.toChars(cp))));
    while (word.size() > 1) {
      int best = -1;
      int bestRank = Integer.MAX_VALUE;
      for (int i = 0; i < word.size() - 1; i++) {
        Integer r = ranks.get(word.get(i) + " " + word.get(i + 1));
        if (r != null && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) {
        break;
      }
      String first = word.get(best);
      String second = word.get(best + 1);
      // merge every occurrence of the best pair, left to right, as encoder.py does
      List<String> merged = new ArrayList<>();
      for (int i = 0; i < word.size(); i++) {
        if (i < word.size() - 1 && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
          merged.add(first + second);
          i++;
        } else {
          merged.add(word.get(i));
        }
      }
      word.clear();
      word.addAll(merged);
    }
    cache.put(token, List.copyOf(word));
    return word;
  }
}
