package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.data.Prepare;
import dev.gpt2j.data.TokenFile;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.util.Download;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each bad input a new user tried: one line naming the file or option, a non-zero exit code, no
 * stack trace, and nothing written or damaged.
 */
class BadInputTest {
  @TempDir Path tmp;
  Path model;

  @BeforeEach
  void tinyModel() {
    model = tmp.resolve("m");
    TinyModels.writeRandom(model, TinyModels.TINY, 1);
  }

  private static String refused(String... argv) {
    return CliRunner.refusal(argv);
  }

  private Path binaryFile() throws IOException {
    return Files.write(
        tmp.resolve("binary.txt"), new byte[] {'h', 'i', (byte) 0xC3, (byte) 0x28, 0, (byte) 0xFF});
  }

  @Test
  void nonUtf8PromptAndScoreFilesAreNamed() throws IOException {
    Path bin = binaryFile();
    assertEquals(
        "--prompt-file: " + bin + " is not UTF-8 text",
        refused("sample", "--model-dir", model.toString(), "--prompt-file", bin.toString()));
    assertEquals(
        "--file: " + bin + " is not UTF-8 text",
        refused("score", "--model-dir", model.toString(), "--file", bin.toString()));
  }

  @Test
  void directoriesWhereFilesBelongAndFilesWhereDirectoriesBelong() {
    assertEquals(
        "--file: " + tmp + " is a directory, not a file",
        refused("score", "--model-dir", model.toString(), "--file", tmp.toString()));
    Path file = model.resolve("hparams.json");
    assertEquals(
        file + ": is a file; expected a model directory (OpenAI's layout)",
        refused("score", "--model-dir", file.toString(), "--text", "a b c"));
    assertEquals(
        file + ": is a file; expected a model directory (OpenAI's layout)",
        refused("sample", "--model-dir", file.toString(), "--prompt", "a"));
  }

  @Test
  void aGarbageCheckpointFileIsNamed() throws IOException {
    Files.write(model.resolve("checkpoint"), new byte[] {(byte) 0xFF, (byte) 0xFE, 3});
    assertEquals(
        model.resolve("checkpoint") + ": is not UTF-8 text",
        refused("score", "--model-dir", model.toString(), "--tokens", "1,2,3"));
  }

  @Test
  void anHparamsJsonWithFewerLayersThanTheCheckpointIsRefused() throws IOException {
    HParams hp = TinyModels.TINY;
    Files.writeString(
        model.resolve("hparams.json"),
        new HParams(hp.nVocab(), hp.nCtx(), hp.nEmbd(), hp.nHead(), 1).toJson());
    String message = refused("score", "--model-dir", model.toString(), "--tokens", "1,2,3");
    assertTrue(
        message.startsWith(
            model.resolve("model.ckpt.index")
                + ": holds 12 tensor(s) the model "
                + "would not use (model/h1/attn/c_attn/b, "),
        message);
    assertTrue(message.endsWith("); does hparams.json describe this checkpoint?"), message);
  }

  @Test
  void initRefusesAVocabularyLargerThanTheTokenizersAndANonEmptyDirectory() {
    Path out = tmp.resolve("big");
    assertEquals(
        "n_vocab (70000) exceeds GPT-2's tokenizer, which has 50257 ids: the extra rows "
            + "could never be read or written",
        refused(
            "init",
            "--model-dir",
            out.toString(),
            "--n-layer",
            "1",
            "--n-head",
            "1",
            "--n-embd",
            "8",
            "--n-ctx",
            "8",
            "--n-vocab",
            "70000"));
    assertFalse(Files.exists(out));
    assertEquals(
        model
            + ": already exists and is not empty; choose a new directory (nothing was "
            + "overwritten)",
        refused("init", "--model-dir", model.toString(), "--like", "1558M"));
  }

  @Test
  void prepareRefusesEmptyInputAndNoValidationShareAndWritesNothing() throws IOException {
    Path empty = Files.writeString(tmp.resolve("empty.txt"), "");
    Path text =
        Files.writeString(tmp.resolve("text.txt"), "To be, or not to be, that is the question.");
    Path out = tmp.resolve("data");
    assertEquals(
        "--input: "
            + empty
            + " gives 0 train and 0 val tokens; both need some (more text, "
            + "or another --val-fraction); nothing was written",
        refused("prepare", "--input", empty.toString(), "--out", out.toString()));
    assertEquals(
        "--val-fraction must be in (0, 1): training needs validation tokens, got 0.0",
        refused(
            "prepare", "--input", text.toString(), "--out", out.toString(), "--val-fraction", "0"));
    assertFalse(Files.exists(out));
  }

  // `train` of a one-layer model on `data` into `out`, then `more` keys
  private static String[] train(Path data, Path out, String... more) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "train",
                "--data_dir=" + data,
                "--out_dir=" + out,
                "--n_layer=1",
                "--n_head=1",
                "--n_embd=8",
                "--n_ctx=16",
                "--block_size=16"));
    argv.addAll(List.of(more));
    return argv.toArray(String[]::new);
  }

  private Path tokenFiles(int trainTokens, int valTokens) throws IOException {
    Path data = Files.createDirectories(tmp.resolve("data"));
    TokenFile.write(data.resolve(Prepare.TRAIN), new int[trainTokens]);
    TokenFile.write(data.resolve(Prepare.VAL), new int[valTokens]);
    return data;
  }

  @Test
  void trainChecksBothTokenFilesBeforeStepOne() throws IOException {
    Path data = tokenFiles(5000, 10);
    Path out = tmp.resolve("run");
    assertEquals(
        data.resolve(Prepare.VAL)
            + ": 10 tokens, need more than block_size (16); prepare "
            + "more text or a larger --val-fraction",
        refused(train(data, out)));
    assertFalse(Files.exists(out));
  }

  @Test
  void theLastOfARepeatedKeyWins() throws IOException {
    Path data = tokenFiles(5000, 500);
    Path out = tmp.resolve("run");
    CliRunner.Outcome o =
        CliRunner.run(
            train(
                data,
                out,
                "--batch_size=2",
                "--xla=false",
                "--eval_iters=1",
                "--sample_interval=0",
                "--max_iters=3",
                "--max_iters=1"));
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("done: iter 1, "), o.out());
    assertTrue(Files.exists(out.resolve("model.ckpt-1.index")));
  }

  @Test
  void downloadNamesABadUrlAndGivesUpOnASilentServerLeavingNoDirectory() throws Exception {
    Path parent = tmp.resolve("checkpoints");
    assertEquals(
        "--base-url: 'notaurl' is not an http:// or https:// URL",
        refused(
            "download", "--model", "124M", "--dir", parent.toString(), "--base-url", "notaurl"));
    List<Socket> accepted = new ArrayList<>();
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor =
          new Thread(
              () -> {
                try {
                  while (true) {
                    accepted.add(silent.accept()); // and never answer
                  }
                } catch (IOException closed) {
                  // the test is over
                }
              });
      acceptor.start();
      long start = System.nanoTime();
      CliRunner.Outcome o =
          CliRunner.run(
              "download",
              "--model",
              "124M",
              "--dir",
              parent.toString(),
              "--base-url",
              "http://127.0.0.1:" + silent.getLocalPort() + "/gpt-2",
              "--timeout",
              "1");
      assertEquals(1, o.code(), o.err());
      assertEquals(1, o.err().lines().count(), o.err());
      assertTrue(o.err().contains("/models/124M/checkpoint: no answer within 1 s"), o.err());
      // the 1 s asked for, not the default: the message names it, and the wait was shorter
      assertTrue((System.nanoTime() - start) / 1e9 < Download.DEFAULT_TIMEOUT.toSeconds(), o.err());
    } finally {
      for (Socket s : accepted) {
        s.close();
      }
    }
    assertFalse(Files.exists(parent.resolve("124M")), "an empty checkpoints/124M was left behind");
  }

  @Test
  void benchOptionsThatWouldRunNothingAreRefused() {
    assertEquals(
        "--runs must be at least 1, got 0 (see --help)",
        refused("bench-sample", "--model-dir", model.toString(), "--runs", "0"));
    assertEquals(
        "--new-tokens (16) must be below the model's n_ctx (16), leaving room for a prompt "
            + "(see --help)",
        refused("bench-sample", "--model-dir", model.toString(), "--new-tokens", "16"));
    assertEquals(
        "--only: no shape starts with 'nonsense' (shapes: baby, 124M) (see --help)",
        refused("bench-train", "--only", "nonsense"));
  }
}
