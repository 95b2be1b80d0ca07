package dev.gpt2j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Text to token ids and back: GPT-2's BPE ({@link #GPT2}), or a character vocabulary ({@link
 * CharTokenizer}) for models trained on characters. A model directory holding {@code chars.json}
 * uses that one.
 */
public interface Tokenizer {
  int[] encode(String text);

  /** The UTF-8 bytes of {@code ids}; a GPT-2 token may end inside a multi-byte character. */
  byte[] decodeBytes(int... ids);

  default String decode(int... ids) {
    return new String(decodeBytes(ids), StandardCharsets.UTF_8);
  }

  /** The id that separates documents, if the vocabulary has one. */
  OptionalInt endOfText();

  /** How many ids the vocabulary has. */
  int size();

  /** GPT-2's byte-level BPE. */
  Tokenizer GPT2 =
      new Tokenizer() {
        @Override
        public int[] encode(String text) {
          return Gpt2Tokenizer.encode(text);
        }

        @Override
        public byte[] decodeBytes(int... ids) {
          return Gpt2Tokenizer.decodeBytes(ids);
        }

        @Override
        public OptionalInt endOfText() {
          return OptionalInt.of(Gpt2Tokenizer.END_OF_TEXT);
        }

        @Override
        public int size() {
          return Gpt2Tokenizer.VOCAB_SIZE;
        }
      };

  /** The tokenizer of the model (or data) directory {@code dir}: its chars.json, else GPT-2's. */
  static Tokenizer of(Path dir) {
    Path chars = dir.resolve(CharTokenizer.FILE_NAME);
    return Files.exists(chars) ? CharTokenizer.read(chars) : GPT2;
  }
}
