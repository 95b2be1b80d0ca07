package dev.gpt2j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.testing.SharedFiles;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepareTest {
  @TempDir Path tmp;

  @Test
  void tokenFilesAreLittleEndianUint16AndReadBack() throws Exception {
    int[] ids = {0, 1, 255, 256, 50256, 65535};
    TokenFile.write(tmp.resolve("t.bin"), ids);
    byte[] raw = Files.readAllBytes(tmp.resolve("t.bin"));
    assertEquals(12, raw.length);
    assertEquals(50256, ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getChar(8));
    char[] back = TokenFile.read(tmp.resolve("t.bin"));
    assertArrayEquals(ids, IntStream.range(0, back.length).map(i -> back[i]).toArray());
    assertThrows(
        IllegalArgumentException.class,
        () -> TokenFile.write(tmp.resolve("u.bin"), new int[] {65536}));
  }

  @Test
  void charactersRoundTripExactlyThroughTheirVocabulary() throws Exception {
    String text = "Héllo, wörld!\nZ\u00e9 🎉 tab\there\n".repeat(7);
    Files.writeString(tmp.resolve("in.txt"), text);
    CliRunner.Outcome o =
        CliRunner.run(
            "prepare",
            "--input",
            tmp.resolve("in.txt").toString(),
            "--out",
            tmp.resolve("out").toString(),
            "--tokenizer",
            "char");
    assertEquals(0, o.code(), o.err());
    CharTokenizer chars = CharTokenizer.read(tmp.resolve("out/chars.json"));
    int[] all =
        IntStream.concat(ids(tmp.resolve("out/train.bin")), ids(tmp.resolve("out/val.bin")))
            .toArray();
    assertEquals(text, chars.decode(all));
    assertEquals(text.codePoints().count(), all.length, "one id per character");
    // sorted by code point, as nanoGPT's sorted(set(data))
    assertEquals(
        text.codePoints().distinct().sorted().mapToObj(Character::toString).toList(),
        IntStream.range(0, chars.size()).mapToObj(chars::decode).toList());
    assertEquals(
        "character 'q' (U+0071) at position 2 is not in the model's chars.json",
        assertThrows(IllegalArgumentException.class, () -> chars.encode("Héq")).getMessage());
  }

  private static IntStream ids(Path file) {
    char[] ids = TokenFile.read(file);
    return IntStream.range(0, ids.length).map(i -> ids[i]);
  }

  @Test
  void tinyShakespeareCharactersSplitAsNanoGptsCharPrepare() throws Exception {
    Path corpus = SharedFiles.require("data/tinyshakespeare.txt");
    CliRunner.Outcome o =
        CliRunner.run(
            "prepare",
            "--input",
            corpus.toString(),
            "--out",
            tmp.toString(),
            "--tokenizer",
            "char");
    assertEquals(0, o.code(), o.err());
    // nanoGPT's data/shakespeare_char/prepare.py prints: vocab size: 65, train has 1,003,854
    // tokens, val has 111,540 tokens
    assertEquals(65, CharTokenizer.read(tmp.resolve("chars.json")).size());
    assertEquals(1_003_854, TokenFile.read(tmp.resolve("train.bin")).length);
    assertEquals(111_540, TokenFile.read(tmp.resolve("val.bin")).length);
  }

  @Test
  void tinyShakespeareSplitsAsNanoGptsPrepare() throws Exception {
    Path corpus = SharedFiles.require("data/tinyshakespeare.txt");
    CliRunner.Outcome o =
        CliRunner.run("prepare", "--input", corpus.toString(), "--out", tmp.toString());
    assertEquals(0, o.code(), o.err());
    // nanoGPT's data/shakespeare/prepare.py prints: train has 301,966 tokens, val has 36,059 tokens
    assertEquals(301_966, TokenFile.read(tmp.resolve("train.bin")).length);
    assertEquals(36_059, TokenFile.read(tmp.resolve("val.bin")).length);
    assertEquals(
        o.out().startsWith(corpus + ": 301,966 train tokens, 36,059 val tokens"), true, o.out());
  }

  @Test
  void aDirectorysFilesAreJoinedWithEndOfText() throws Exception {
    Path in = Files.createDirectories(tmp.resolve("in"));
    Files.writeString(in.resolve("a.txt"), "Hello world");
    Files.writeString(in.resolve("b.txt"), " again and again and again");
    Prepare.prepare(in, tmp.resolve("out"), 0.25, Prepare.Tokens.GPT2);
    char[] train = TokenFile.read(tmp.resolve("out/train.bin"));
    char[] val = TokenFile.read(tmp.resolve("out/val.bin"));
    int[] all =
        IntStream.concat(
                IntStream.range(0, train.length).map(i -> train[i]),
                IntStream.range(0, val.length).map(i -> val[i]))
            .toArray();
    int[] expected =
        IntStream.concat(
                IntStream.concat(
                    Arrays.stream(Gpt2Tokenizer.encode("Hello world")),
                    IntStream.of(Gpt2Tokenizer.END_OF_TEXT)),
                Arrays.stream(Gpt2Tokenizer.encode(" again and again and again")))
            .toArray();
    assertArrayEquals(expected, all);
    assertEquals((int) (expected.length * 0.75), train.length);
  }

  @Test
  void batchesAreShiftedByOneAndReproducible() throws Exception {
    int[] ids = IntStream.range(0, 1000).toArray();
    TokenFile.write(tmp.resolve("t.bin"), ids);
    Batches batches = new Batches(tmp.resolve("t.bin"));
    Batches.Batch a = batches.get(1, 0, 7, 3, 16);
    Batches.Batch b = batches.get(1, 0, 7, 3, 16);
    Batches.Batch c = batches.get(1, 0, 8, 3, 16);
    for (int r = 0; r < 3; r++) {
      assertArrayEquals(a.x()[r], b.x()[r]);
      for (int t = 0; t < 16; t++) {
        assertEquals(a.x()[r][t] + 1, a.y()[r][t]);
      }
    }
    assertFalse(Arrays.equals(a.x()[0], c.x()[0]));
  }

  @Test
  void badInputsAreNamed() {
    CliRunner.Outcome o =
        CliRunner.run(
            "prepare",
            "--input",
            tmp.resolve("none.txt").toString(),
            "--out",
            tmp.resolve("o").toString());
    assertEquals(2, o.code());
    assertEquals("gpt2 prepare: --input: " + tmp.resolve("none.txt") + " not found\n", o.err());
  }
}
