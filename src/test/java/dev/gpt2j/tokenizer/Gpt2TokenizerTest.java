package dev.gpt2j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.gpt2j.testing.SharedFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class Gpt2TokenizerTest {

  @Test
  void knownEncoding() {
    assertArrayEquals(
        new int[] {3673, 477, 10281, 5806, 1451, 274, 13},
        Gpt2Tokenizer.encode("Not all heroes wear capes."));
  }

  @Test
  void endOfTextTextIsOrdinaryTextAndIdDecodesToIt() {
    assertEquals("<|endoftext|>", Gpt2Tokenizer.decode(Gpt2Tokenizer.END_OF_TEXT));
    int[] ids = Gpt2Tokenizer.encode("<|endoftext|>");
    assertEquals(false, ids.length == 1 && ids[0] == Gpt2Tokenizer.END_OF_TEXT);
  }

  @Test
  void roundTripsArbitraryUtf8() {
    String text = "Grüße, 世界! 🙂 \t\n  tabs\u00a0and\r\nemoji 👩‍👩‍👧 ﷽ \uD83D\uDE00";
    assertEquals(text, Gpt2Tokenizer.decode(Gpt2Tokenizer.encode(text)));
  }

  @Test
  void streamedTextEqualsDecodedTextAcrossSplitCharacters() {
    String text = "emoji 👩‍👩‍👧 and 世界 and ﷽";
    int[] ids = Gpt2Tokenizer.encode(text);
    TextStream stream = new TextStream(Tokenizer.GPT2);
    StringBuilder out = new StringBuilder();
    for (int id : ids) {
      String piece = stream.push(id);
      assertEquals(-1, piece.indexOf('\uFFFD'), "a split character leaked out as " + piece);
      out.append(piece);
    }
    out.append(stream.finish());
    assertEquals(text, out.toString());
  }

  @Test
  void rejectsIdsOutsideVocabulary() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Gpt2Tokenizer.decode(50257));
    assertEquals("token id 50257 is outside GPT-2's vocabulary [0, 50257)", e.getMessage());
  }

  @Test
  void matchesOpenAiEncoderOnAllOfTinyShakespeare() throws Exception {
    Path corpus = SharedFiles.require("data/tinyshakespeare.txt");
    Path encoder = SharedFiles.require("gpt2-tokenizer/encoder.json");
    Path vocab = SharedFiles.require("gpt2-tokenizer/vocab.bpe");
    String text = Files.readString(corpus, StandardCharsets.UTF_8);
    List<Integer> expected = new ReferenceBpe(encoder, vocab).encode(text);
    int[] actual = Gpt2Tokenizer.encode(text);
    assertEquals(expected.size(), actual.length, "token count");
    for (int i = 0; i < actual.length; i++) {
      assertEquals((int) expected.get(i), actual[i], "token " + i);
    }
    assertEquals(338025, actual.length); // nanoGPT's shakespeare prepare.py: 301,966 + 36,059
  }
}
