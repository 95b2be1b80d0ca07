package dev.gpt2j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.gpt2j.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** The tokenizer files we write against OpenAI's own (../shared/gpt2-tokenizer). */
class OpenAiVocabularyTest {
  @Test
  void encoderJsonIsByteForByteOpenAis() throws IOException {
    assertArrayEquals(
        Files.readAllBytes(SharedFiles.require("gpt2-tokenizer/encoder.json")),
        OpenAiVocabulary.encoderJson());
  }

  @Test
  void vocabBpeIsByteForByteOpenAis() throws IOException {
    assertArrayEquals(
        Files.readAllBytes(SharedFiles.require("gpt2-tokenizer/vocab.bpe")),
        OpenAiVocabulary.vocabBpe());
  }
}
