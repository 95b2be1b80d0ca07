package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.CheckpointException;
import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.data.Prepare;
import dev.gpt2j.data.TokenFile;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.TinyData;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole runs of a tiny model on synthetic token files: resume, stop, divergence, outputs. */
@Tag("process")
class TrainerTest {
  @TempDir Path tmp;
  Path data;

  @BeforeEach
  void tokens() throws Exception {
    data = TinyData.write(tmp.resolve("data"));
  }

  Map<String, String> tiny(String outDir, String... more) {
    Map<String, String> o =
        new HashMap<>(
            Map.of(
                "init_from",
                "scratch",
                "out_dir",
                tmp.resolve(outDir).toString(),
                "data_dir",
                data.toString(),
                "n_layer",
                "1",
                "n_head",
                "2",
                "n_embd",
                "16",
                "n_ctx",
                "16",
                "batch_size",
                "4",
                "block_size",
                "16",
                "xla",
                "false"));
    o.putAll(
        Map.of(
            "warmup_iters",
            "2",
            "lr_decay_iters",
            "10",
            "eval_iters",
            "2",
            "log_interval",
            "5",
            "sample_interval",
            "0",
            "eval_interval",
            "5",
            "max_iters",
            "10",
            "learning_rate",
            "1e-2"));
    for (String kv : more) {
      o.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
    }
    return o;
  }

  Trainer.Outcome train(Map<String, String> overrides) {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    return new Trainer(
            TrainConfig.load(null, overrides),
            new PrintStream(log, true, StandardCharsets.UTF_8),
            () -> false)
        .run();
  }

  @Test
  void tenStepsEqualFivePlusResumePlusFive() throws Exception {
    assertResumeIsExact();
  }

  // the memory options change the graph and the optimiser state; resume stays exact with them
  @Test
  void resumeIsExactWithRecomputationAndFrozenEmbeddings() throws Exception {
    assertResumeIsExact("recompute=true", "train_embeddings=false");
  }

  @Test
  void resumeIsExactWithAdafactorAndGradientAccumulation() throws Exception {
    assertResumeIsExact("optimizer=adafactor", "grad_clip=0", "gradient_accumulation_steps=2");
  }

  @Test
  void resumeIsExactInBfloat16WithAccumulation() throws Exception {
    assertResumeIsExact("dtype=bfloat16", "gradient_accumulation_steps=2");
  }

  // a mixture's load-balancing loss in metrics.csv, dropout's masks drawn again on resume, and
  // bfloat16 products
  @Test
  void resumeIsExactForALlamaStyleMixtureWithDropout() throws Exception {
    assertResumeIsExact(
        "norm=rmsnorm",
        "mlp=swiglu",
        "position=rope",
        "n_kv_head=1",
        "bias=false",
        "moe_experts=2",
        "moe_top_k=1",
        "dropout=0.2",
        "dtype=bfloat16");
    List<String> rows = Files.readAllLines(tmp.resolve("straight/" + Metrics.CSV));
    assertTrue(rows.get(1).matches("5,[^,]+,,[^,]+,[^,]+,[0-9.]+,"), rows.get(1));
  }

  private void assertResumeIsExact(String... options) throws Exception {
    train(tiny("straight", options));
    train(tiny("split", with(options, "max_iters=5")));
    assertEquals(5, new RunDir(tmp.resolve("split")).latest().iter());
    train(tiny("split", with(options, "init_from=resume")));
    assertEquals(10, new RunDir(tmp.resolve("split")).latest().iter());
    try (Gpt2Model a = Gpt2Model.load(tmp.resolve("straight"));
        Gpt2Model b = Gpt2Model.load(tmp.resolve("split"))) {
      Map<String, float[]> wa = a.weights();
      Map<String, float[]> wb = b.weights();
      for (String name : wa.keySet()) {
        assertArrayEquals(wa.get(name), wb.get(name), name);
      }
    }
    List<String> straight = Files.readAllLines(tmp.resolve("straight/" + Metrics.CSV));
    List<String> split = Files.readAllLines(tmp.resolve("split/" + Metrics.CSV));
    assertEquals("iter,train_loss,val_loss,lr,tokens_per_s,aux_loss,task_metric", straight.get(0));
    assertEquals(straight.size(), split.size());
    for (int i = 0; i < straight.size(); i++) { // the same losses; tokens/s may differ
      assertEquals(withoutSpeed(straight.get(i)), withoutSpeed(split.get(i)));
    }
  }

  private static String withoutSpeed(String row) {
    String[] f = row.split(",", -1);
    f[4] = "";
    return String.join(",", f);
  }

  private static String[] with(String[] options, String more) {
    String[] all = java.util.Arrays.copyOf(options, options.length + 1);
    all[options.length] = more;
    return all;
  }

  @Test
  void theRunDirectoryIsAModelThatScoreAndSampleLoadAndHasItsOutputs() throws Exception {
    train(tiny("run"));
    Path run = tmp.resolve("run");
    for (String name :
        List.of(
            "checkpoint",
            "hparams.json",
            "model.ckpt-10.index",
            "model.ckpt-10.data-00000-of-00001",
            "optimizer.ckpt-10.index",
            "train-10.json",
            "config.properties",
            "metrics.csv",
            "loss.png",
            "encoder.json",
            "vocab.bpe",
            "best/checkpoint",
            "best/encoder.json",
            "best/vocab.bpe")) {
      assertTrue(Files.isRegularFile(run.resolve(name)), name);
    }
    assertFalse(Files.exists(run.resolve("model.ckpt-5.index")), "older steps are removed");
    byte[] png = Files.readAllBytes(run.resolve("loss.png"));
    assertEquals((byte) 0x89, png[0]);
    assertEquals('P', png[1]);
    CliRunner.Outcome score =
        CliRunner.run("score", "--model-dir", run.toString(), "--tokens", "7,14,21", "--json");
    assertEquals(0, score.code(), score.err());
    CliRunner.Outcome sample =
        CliRunner.run(
            "sample",
            "--model-dir",
            run.toString(),
            "--prompt",
            "x",
            "--length",
            "4",
            "--seed",
            "1",
            "--json");
    assertEquals(0, sample.code(), sample.err());
    assertTrue(Files.readString(run.resolve("config.properties")).contains("max_iters = 10"));
  }

  @Test
  void anInterruptedSaveLeavesThePreviousStepLoadable() throws Exception {
    train(tiny("run", "max_iters=5"));
    Path run = tmp.resolve("run");
    // a save of step 10 that died after writing part of the model and nothing else
    byte[] data5 = Files.readAllBytes(run.resolve("model.ckpt-5.data-00000-of-00001"));
    Files.write(
        run.resolve("model.ckpt-10.data-00000-of-00001"),
        java.util.Arrays.copyOf(data5, data5.length / 2));
    Files.copy(run.resolve("model.ckpt-5.index"), run.resolve("model.ckpt-10.index"));
    assertEquals(5, new RunDir(run).latest().iter());
    try (Gpt2Model m = Gpt2Model.load(run)) {
      assertEquals(1, m.hparams().nLayer());
    }
    train(tiny("run", "init_from=resume"));
    assertEquals(10, new RunDir(run).latest().iter());
  }

  @Test
  void aDivergingRunStopsWithoutTouchingTheLastCheckpoint() throws Exception {
    train(tiny("run", "max_iters=5"));
    Path index = tmp.resolve("run/model.ckpt-5.index");
    byte[] before = Files.readAllBytes(tmp.resolve("run/model.ckpt-5.data-00000-of-00001"));
    Trainer.DivergedException e =
        assertThrows(
            Trainer.DivergedException.class,
            () ->
                train(
                    tiny(
                        "run",
                        "init_from=resume",
                        "learning_rate=1e30",
                        "min_lr=1e30",
                        "grad_clip=0")));
    assertTrue(
        e.getMessage()
            .matches(
                "loss is (NaN|Infinity|-Infinity) at iter \\d+; stopped without "
                    + "saving, the last checkpoint in .* is untouched \\(try a lower learning_rate\\)"),
        e.getMessage());
    assertTrue(Files.isRegularFile(index));
    assertArrayEquals(
        before, Files.readAllBytes(tmp.resolve("run/model.ckpt-5.data-00000-of-00001")));
    assertEquals(5, new RunDir(tmp.resolve("run")).latest().iter());
  }

  @Test
  void startingFromScratchOverAnExistingRunIsRefused() {
    train(tiny("run", "max_iters=5"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> train(tiny("run")));
    assertTrue(
        e.getMessage()
            .endsWith(
                "already holds a run; continue it with init_from=resume or "
                    + "choose another out_dir (nothing was changed)"),
        e.getMessage());
  }

  @Test
  void badConfigKeysAndValuesAreNamed() throws Exception {
    CliRunner.Outcome unknown = CliRunner.run("train", "--max_iter=5");
    assertEquals(2, unknown.code());
    assertTrue(
        unknown.err().startsWith("gpt2 train: Unrecognized option: --max_iter=5"), unknown.err());
    assertBad("batch_size must be > 0, got 0 (see --help)", "--batch_size=0");
    assertBad("learning_rate expects a number, got 'fast' (see --help)", "--learning_rate=fast");
    assertBad("xla must be auto, true or false, got 'yes' (see --help)", "--xla=yes");
    assertBad("dtype must be auto, float32 or bfloat16, got 'fp16' (see --help)", "--dtype=fp16");
    assertBad("optimizer must be adamw or adafactor, got 'sgd' (see --help)", "--optimizer=sgd");
    assertBad(
        "lr_decay_iters (10) must be >= warmup_iters (100) (see --help)", "--lr_decay_iters=10");
    Path config = tmp.resolve("c.properties");
    Files.writeString(config, "batch_size = 4\nbatchsize = 5\n");
    assertBad(
        config
            + ": unknown key 'batchsize' (keys: "
            + String.join(", ", TrainConfig.KEYS.stream().map(ConfigKey::name).toList())
            + ") (see --help)",
        "--config",
        config.toString());
    assertBad(
        "--config: " + tmp.resolve("none.properties") + " not found (see --help)",
        "--config",
        tmp.resolve("none.properties").toString());
  }

  // XLA's gather clamps an id past the vocabulary: without the check this trained, exit 0
  @Test
  void aTokenIdOutsideTheVocabularyIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path bad = Files.createDirectories(tmp.resolve("bad"));
    int[] train = new int[4000];
    train[1234] = 60000;
    TokenFile.write(bad.resolve(Prepare.TRAIN), train);
    TokenFile.write(bad.resolve(Prepare.VAL), new int[800]);
    Map<String, String> o = tiny("run", "data_dir=" + bad, "xla=true");
    List<String> argv = new ArrayList<>(List.of("train"));
    o.forEach((k, v) -> argv.add("--" + k + "=" + v));
    CliRunner.Outcome out = CliRunner.run(argv.toArray(String[]::new));
    assertEquals(2, out.code(), out.err());
    assertEquals(
        "gpt2 train: "
            + bad.resolve(Prepare.TRAIN)
            + ": token id 60000 at position 1234 is outside the model's vocabulary of 50257 (the"
            + " data was prepared for another tokenizer: prepare it again)\n",
        out.err());
    assertFalse(Files.exists(tmp.resolve("run")), "a refused run leaves nothing");
  }

  private static void assertBad(String message, String... args) {
    CliRunner.assertRefused(message, CliRunner.argv("train", args));
  }

  @Test
  void sigtermSavesTheCurrentStepAndResumeContinues() throws Exception {
    Map<String, String> o =
        tiny("run", "max_iters=100000", "eval_interval=100000", "log_interval=1");
    List<String> args = new ArrayList<>(List.of("train"));
    o.forEach((k, v) -> args.add("--" + k + "=" + v));
    List<String> cmd = CliProcess.command(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    List<String> lines = new ArrayList<>();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        lines.add(line);
        if (line.startsWith("iter 20/")) {
          p.toHandle().destroy(); // SIGTERM (Process.destroy would also close our pipe)
        }
      }
    }
    assertEquals(143 & 0xff, p.waitFor() & 0xff, String.join("\n", lines));
    assertTrue(lines.stream().noneMatch(l -> l.contains("Exception")), String.join("\n", lines));
    String stopped =
        lines.stream().filter(l -> l.startsWith("stopped at iter")).findFirst().orElse("");
    assertTrue(
        stopped.matches("stopped at iter (\\d+); saved .* \\(continue with init_from=resume\\)"),
        String.join("\n", lines));
    int at = Integer.parseInt(stopped.replaceAll("stopped at iter (\\d+);.*", "$1"));
    assertTrue(at >= 20, stopped);
    assertEquals(at, new RunDir(tmp.resolve("run")).latest().iter());
    train(tiny("run", "init_from=resume", "max_iters=" + (at + 3)));
    assertEquals(at + 3, new RunDir(tmp.resolve("run")).latest().iter());
  }

  private CliRunner.Outcome trainCli(Map<String, String> keys) {
    List<String> argv = new ArrayList<>(List.of("train"));
    keys.forEach((k, v) -> argv.add("--" + k + "=" + v));
    return CliRunner.run(argv.toArray(String[]::new));
  }

  // a resumed run trains the model it was made with: a model key given with another value is
  // refused (it was ignored, while config.properties recorded it), one that names the same model
  // is fine, and keys left at their defaults take the run's values in config.properties
  @Test
  void aResumedRunKeepsItsModelAndItsRecordSaysSo() throws Exception {
    train(tiny("run", "max_iters=5"));
    Path config = tmp.resolve("run").resolve(RunDir.CONFIG);
    String before = Files.readString(config);
    String run = tmp.resolve("run").toString();
    for (String[] key :
        new String[][] {
          {"n_layer", "2", "1"},
          {"norm", "RMSNorm", "layernorm"},
          {"moe_experts", "2", "0"},
          {"bias", "false", "true"}
        }) {
      CliRunner.Outcome o = trainCli(tiny("run", "init_from=resume", key[0] + "=" + key[1]));
      assertEquals(2, o.code(), o.err());
      assertEquals(
          "gpt2 train: "
              + key[0]
              + ": the run in "
              + run
              + " was made with "
              + key[0]
              + " = "
              + key[2]
              + ", not "
              + key[1]
              + "; a resumed run keeps its model (leave "
              + key[0]
              + " out, or train a new one in another out_dir) (see --help)\n",
          o.err());
      assertEquals(before, Files.readString(config), "the record is untouched");
    }
    // the same model in other words (the default MLP width written out), then no model keys at
    // all, so the defaults (n_layer 4) are not the run's
    Map<String, String> same = tiny("run", "init_from=resume", "mlp_hidden=64", "max_iters=7");
    assertEquals(0, trainCli(same).code());
    Map<String, String> bare = tiny("run", "init_from=resume", "max_iters=8");
    List.of("n_layer", "n_head", "n_embd", "n_ctx").forEach(bare::remove);
    CliRunner.Outcome resumed = trainCli(bare);
    assertEquals(0, resumed.code(), resumed.err());
    assertTrue(resumed.out().contains("step 8: loss "), "its real step: " + resumed.out());
    assertTrue(Files.readString(config).contains("\nn_layer = 1\n"), Files.readString(config));
    assertEquals(8, new RunDir(tmp.resolve("run")).latest().iter());
  }

  // resuming a run that is already past max_iters changed its record and printed NaN losses
  @Test
  void resumingARunAlreadyAtMaxItersDoesNothing() throws Exception {
    train(tiny("run", "max_iters=5"));
    Path dir = tmp.resolve("run");
    String config = Files.readString(dir.resolve(RunDir.CONFIG));
    String metrics = Files.readString(dir.resolve(Metrics.CSV));
    CliRunner.Outcome o = trainCli(tiny("run", "init_from=resume", "max_iters=3"));
    assertEquals(0, o.code(), o.err());
    assertEquals("already at iter 5 (max_iters 3); nothing to do\n", o.out());
    assertEquals(config, Files.readString(dir.resolve(RunDir.CONFIG)));
    assertEquals(metrics, Files.readString(dir.resolve(Metrics.CSV)));
  }

  @Test
  void whereWeightsComeFromIsCheckedBeforeTheData() throws Exception {
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    // character data, so that a vocabulary check before these would have complained instead
    Path chars = Files.createDirectories(tmp.resolve("chars"));
    dev.gpt2j.data.Prepare.prepare(
        Files.writeString(tmp.resolve("t.txt"), "abcdefgh ".repeat(400)),
        chars,
        0.1,
        dev.gpt2j.data.Prepare.Tokens.CHAR);
    CliRunner.assertRefused(
        "init_from=resume: "
            + empty
            + " holds no run to resume (no checkpoint file); start one with init_from=scratch",
        "train",
        "--init_from=resume",
        "--out_dir=" + empty,
        "--data_dir=" + chars);
    CliRunner.assertRefused(
        "init_from: gpt2 is not a model directory; expected scratch, resume, or a directory in"
            + " OpenAI's layout (checkpoints/124M after make download MODEL=124M)",
        "train",
        "--init_from=gpt2",
        "--out_dir=" + tmp.resolve("new"),
        "--data_dir=" + chars);
    assertFalse(Files.exists(tmp.resolve("new")));
  }
}
