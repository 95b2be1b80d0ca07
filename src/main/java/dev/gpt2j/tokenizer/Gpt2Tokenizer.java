package dev.gpt2j.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-level BPE. JTokkit's {@code r50k_base} is exactly OpenAI's encoder.json + vocab.bpe
 * (checked on all of Tiny Shakespeare by the tests), embedded in the library, so no tokenizer files
 * are needed at run time.
 */
public final class Gpt2Tokenizer {
  public static final int END_OF_TEXT = 50256;
  public static final int VOCAB_SIZE = 50257;
  private static final Encoding R50K =
      Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

  private Gpt2Tokenizer() {}

  /**
   * Token ids of {@code text}, as OpenAI's encoder.py gives them: special-token text such as
   * "<|endoftext|>" is encoded as ordinary text, never as id 50256.
   */
  public static int[] encode(String text) {
    return R50K.encodeOrdinary(text).toArray();
  }

  public static String decode(int... ids) {
    return new String(decodeBytes(ids), StandardCharsets.UTF_8);
  }

  /** The raw bytes of {@code ids}; a token may end inside a multi-byte UTF-8 character. */
  public static byte[] decodeBytes(int... ids) {
    IntArrayList list = new IntArrayList(ids.length);
    for (int id : ids) {
      if (id < 0 || id >= VOCAB_SIZE) {
        throw new IllegalArgumentException(
            "token id " + id + " is outside GPT-2's vocabulary [0, " + VOCAB_SIZE + ")");
      }
      list.add(id);
    }
    return R50K.decodeBytes(list);
  }
}
