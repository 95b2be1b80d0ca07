package dev.gpt2j.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns tokens into text as they arrive. A character split across tokens is held back until its
 * last byte comes, so streamed output is the same text as decoding all tokens at once.
 */
public final class TextStream {
  private final CharsetDecoder utf8 =
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPLACE)
          .onUnmappableCharacter(CodingErrorAction.REPLACE);
  private final Tokenizer tokenizer;
  private ByteBuffer pending = ByteBuffer.allocate(0);

  public TextStream(Tokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** The text completed by {@code token} (possibly empty). */
  public String push(int token) {
    byte[] bytes = tokenizer.decodeBytes(token);
    ByteBuffer in = ByteBuffer.allocate(pending.remaining() + bytes.length);
    in.put(pending).put(bytes).flip();
    CharBuffer out = CharBuffer.allocate(in.remaining() + 1);
    utf8.decode(in, out, false);
    pending = in.slice();
    return out.flip().toString();
  }

  /** Whatever is held back, decoded with replacement characters; resets the stream. */
  public String finish() {
    CharBuffer out = CharBuffer.allocate(pending.remaining() + 2);
    utf8.decode(pending, out, true);
    utf8.flush(out);
    utf8.reset();
    pending = ByteBuffer.allocate(0);
    return out.flip().toString();
  }
}
