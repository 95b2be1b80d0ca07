package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.TinyData;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.tokenizer.CharTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a new user hit in the family, char and eval commands: zero that quietly meant "the default",
 * paths checked only after the work, messages that named the wrong option or Java's internals. Each
 * refusal is one line naming the file or option, exit 2, and nothing written.
 */
class NewUserFaultsTest {
  @TempDir Path tmp;

  // a model whose vocabulary is GPT-2's, small enough to evaluate in a moment
  private Path gpt2Model() {
    Path m = tmp.resolve("gpt2");
    TinyModels.writeRandom(m, new HParams(HParams.GPT2_VOCAB, 32, 16, 2, 1), 3);
    return m;
  }

  // a character model of the letters of `text`
  private Path charModel(String text) {
    Path m = tmp.resolve("chars");
    CharTokenizer chars = CharTokenizer.of(text);
    TinyModels.writeRandom(m, new HParams(chars.size(), 32, 16, 2, 1), 4);
    chars.write(m);
    return m;
  }

  private static String refused(String... argv) {
    return CliRunner.refusal(argv);
  }

  // init of a 1-layer model of 16 wide in dir, and more options
  private static String[] init(Path dir, String... more) {
    List<String> argv =
        new java.util.ArrayList<>(
            List.of(
                "init",
                "--model-dir",
                dir.toString(),
                "--n-layer",
                "1",
                "--n-head",
                "2",
                "--n-embd",
                "16",
                "--n-ctx",
                "16"));
    argv.addAll(List.of(more));
    return argv.toArray(String[]::new);
  }

  @Test
  void zeroIsRefusedWhereItQuietlyMeantEverythingOrTheDefault() throws IOException {
    Path m = gpt2Model();
    Path text = Files.writeString(tmp.resolve("t.txt"), "To be, or not to be. ".repeat(20));
    assertEquals(
        "--limit: expected N >= 1 (leave it out to evaluate every example), got 0 (see --help)",
        refused(CliRunner.evalText(m, text, "--limit", "0")));
    assertEquals(
        "--length: expected N >= 1 new tokens (leave it out for n_ctx/2), got 0 (see --help)",
        refused("sample", "--model-dir", m.toString(), "--prompt", "Hi", "--length", "0"));
  }

  @Test
  void initRefusesWhatADenseModelCannotHoldAndReadsChoicesInAnyCase() throws IOException {
    Path dense = tmp.resolve("dense");
    assertEquals(
        "moe_top_k applies to a mixture of experts only; set moe_experts (>= 2) too, or leave"
            + " moe_top_k out (got moe_top_k 3 with a dense MLP) (see --help)",
        refused(init(dense, "--moe-top-k", "3")));
    assertFalse(Files.exists(dense));
    assertTrue(
        refused(init(dense, "--mlp-hidden", "-1")).contains("or 0 for the MLP's default width"));
    Path llama = tmp.resolve("llama");
    CliRunner.Outcome o = CliRunner.run(init(llama, "--norm", "RMSNorm", "--bias", "False"));
    assertEquals(0, o.code(), o.err());
    String hparams = Files.readString(llama.resolve(HParams.FILE_NAME));
    assertTrue(hparams.contains("\"norm\" : \"rmsnorm\""), hparams);
    assertTrue(hparams.contains("\"bias\" : false"), hparams);
  }

  // the figures were lost: the file was opened only after the whole evaluation
  @Test
  void perExamplePathsAreCheckedBeforeTheEvaluation() throws IOException {
    Path m = gpt2Model();
    Path text = Files.writeString(tmp.resolve("t.txt"), "To be, or not to be. ".repeat(20));
    Path aFile = Files.writeString(tmp.resolve("file"), "");
    for (Path bad : List.of(Path.of("/proc/pe.jsonl"), tmp, aFile.resolve("notadir/x.jsonl"))) {
      String message = refused(CliRunner.evalText(m, text, "--per-example", bad.toString()));
      assertTrue(message.startsWith("--per-example: cannot write " + bad + ": "), message);
    }
    Path deep = tmp.resolve("new/dir/pe.jsonl"); // directories that do not exist yet are made
    CliRunner.Outcome o =
        CliRunner.run(CliRunner.evalText(m, text, "--per-example", deep.toString()));
    assertEquals(0, o.code(), o.err());
    assertTrue(Files.readString(deep).startsWith("{"));
  }

  @Test
  void aMalformedRowIsNamedWithoutTheJsonLibrarysInternals() throws IOException {
    Path m = gpt2Model();
    Path bad =
        Files.writeString(tmp.resolve("bad.jsonl"), "{\"ctx\": \"a\", \"endings\": [\"b\"\n");
    String message =
        refused(
            "eval", "--model-dir", m.toString(), "--task", "hellaswag", "--data", bad.toString());
    assertTrue(message.startsWith(bad + " line 1: not JSON ("), message);
    assertFalse(message.contains("Source"), message);
    assertFalse(message.contains("column"), message);
  }

  @Test
  void aCharacterTheVocabularyLacksNamesTheFileAndTheOption() throws IOException {
    Path m = charModel("abcdefgh .\n");
    Path unicode = Files.writeString(tmp.resolve("u.txt"), "abc défg");
    assertEquals(
        "--data: "
            + unicode
            + ": character 'é' (U+00E9) at position 5 is not in the model's chars.json",
        refused(CliRunner.evalText(m, unicode)));
    Files.delete(m.resolve(CharTokenizer.FILE_NAME));
    String score = refused("score", "--model-dir", m.toString(), "--text", "hello world");
    assertTrue(score.startsWith("--text: token "), score);
    assertTrue(score.contains(m + " has no chars.json"), score);
  }

  @Test
  void trainNamesItsOwnKeysForTheTasksData() throws IOException {
    Path data = TinyData.write(tmp.resolve("data"));
    Path out = tmp.resolve("run");
    String[] run = {
      "train",
      "--data_dir=" + data,
      "--out_dir=" + out,
      "--n_layer=1",
      "--n_head=2",
      "--n_embd=16",
      "--n_ctx=16",
      "--block_size=16",
      "--max_iters=2",
      "--eval_task=hellaswag",
      "--eval_task_data=" + tmp.resolve("nope.jsonl")
    };
    assertEquals("eval_task_data: " + tmp.resolve("nope.jsonl") + " not found", refused(run));
    assertFalse(Files.exists(out));
    String compile = refused("train", "--compile=False");
    assertTrue(compile.contains("XLA is the xla key"), compile);
  }

  @Test
  void prepareRefusesTooManyCharactersAndABinaryFileBeforeAnyProgress() throws IOException {
    StringBuilder many = new StringBuilder();
    for (int cp = 0x100; many.codePointCount(0, many.length()) < 70_000; cp++) {
      if (cp < Character.MIN_SURROGATE || cp > Character.MAX_SURROGATE) {
        many.appendCodePoint(cp);
      }
    }
    Path text = Files.writeString(tmp.resolve("many.txt"), many);
    Path out = tmp.resolve("out");
    assertEquals(
        "--input: "
            + text
            + " has too many distinct characters (70,000; at most 65,536 fit the uint16 ids of"
            + " train.bin); nothing was written",
        refused(
            "prepare", "--input", text.toString(), "--out", out.toString(), "--tokenizer", "char"));
    assertFalse(Files.exists(out));
    Path dir = Files.createDirectories(tmp.resolve("texts"));
    Files.writeString(dir.resolve("a.txt"), "To be, or not to be. ".repeat(5000));
    Files.write(dir.resolve("b.bin"), new byte[] {'h', 'i', (byte) 0xC3, (byte) 0x28, 0});
    assertEquals(
        "--input: " + dir.resolve("b.bin") + " is not UTF-8 text",
        refused("prepare", "--input", dir.toString(), "--out", out.toString()));
    assertFalse(Files.exists(out));
  }

  // a download that fails (offline, as train's eval_task without its data was) is one line
  // naming the address, exit 1: it printed Java's class name
  @Test
  void aFailedDownloadIsOneLineWithoutJavasClassNames() throws IOException {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    CliRunner.Outcome o =
        CliRunner.run(
            "eval",
            "--model-dir",
            gpt2Model().toString(),
            "--task",
            "lambada",
            "--data-dir",
            tmp.resolve("eval").toString(),
            "--data-url",
            "http://127.0.0.1:" + closed + "/lambada_test.jsonl");
    assertEquals(1, o.code(), o.err());
    assertEquals(1, o.err().lines().count(), o.err());
    assertTrue(o.err().startsWith("gpt2 eval: http://127.0.0.1:" + closed), o.err());
    assertFalse(o.err().contains("Exception"), o.err());
  }

  // a hand-placed file is used, and the report says which file and that it is not the published
  // one (its digest differs)
  @Test
  void theReportNamesTheDataFileAndWhetherItIsThePublishedOne() throws IOException {
    Path m = gpt2Model();
    Path dir = Files.createDirectories(tmp.resolve("eval"));
    Path lambada = dir.resolve("lambada_test.jsonl");
    Files.writeString(lambada, "{\"text\": \"the cat sat on the mat\"}\n".repeat(5));
    CliRunner.Outcome o =
        CliRunner.run(
            "eval", "--model-dir", m.toString(), "--task", "lambada", "--data-dir", dir.toString());
    assertEquals(0, o.code(), o.err());
    assertTrue(
        o.out().contains("data: " + lambada + " (not the published file: its digest differs"),
        o.out());
  }
}
