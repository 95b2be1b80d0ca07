package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.data.Prepare;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.TinyData;
import dev.gpt2j.testing.TinyModels;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a new user hit in the first hour (issue 24): memory tools that point the right way, options
 * that conflict, and directories that cannot be written, each refused in one line before any work
 * and leaving nothing behind.
 */
@Tag("process")
class NewUserTest {
  @TempDir Path tmp;

  private static CliRunner.Outcome ok(String... argv) {
    CliRunner.Outcome o = CliRunner.run(argv);
    assertEquals(0, o.code(), o.err());
    return o;
  }

  private static String lastLine(String text) {
    List<String> lines = text.lines().toList();
    return lines.get(lines.size() - 1);
  }

  @Test
  void everyDryRunEndsWithAVerdictAndTrainTakesBothSpellings() throws Exception {
    Path data = TinyData.write(tmp.resolve("data"));
    String dataDir = "--data_dir=" + data;
    String plain = ok("train", "--dry-run", dataDir).out();
    assertTrue(lastLine(plain).startsWith("fits: "), plain);
    assertEquals(plain, ok("train", "--dry_run=true", dataDir).out());
    // a batch far past any machine: a plan of positive items, and what to change
    String huge = ok("train", "--dry-run", "--batch_size=100000", dataDir).out();
    assertTrue(lastLine(huge).startsWith("does not fit: "), huge);
    assertTrue(lastLine(huge).contains("a smaller batch_size or block_size"), huge);
    assertFalse(huge.contains(" -"), "a negative item: " + huge);
    CliRunner.assertRefused(
        "batch_size x block_size is 137,438,953,408 tokens per micro-batch; a step holds at most"
            + " 2,147,483,647 (see --help)",
        "train",
        "--dry-run",
        "--batch_size=2147483647");
  }

  // configs/finetune-774M.properties fine-tunes checkpoints/774M, which is not downloaded here
  @Test
  void aFineTuneIsPlannedBeforeItsDownload() {
    assertFalse(Files.exists(Path.of("checkpoints/774M/hparams.json")));
    String plan =
        ok("train", "--config", "configs/finetune-774M.properties", "--dry_run=true").out();
    assertTrue(plan.contains("weights (774,030,080 float32)"), plan);
    assertTrue(lastLine(plan).matches("(fits|does not fit): .*"), plan);
  }

  @Test
  void sampleDryRunTakesABatchSizeAlone() {
    TinyModels.writeRandom(tmp.resolve("m"), TinyModels.TINY, 1);
    String plan =
        ok("sample", "--model-dir", tmp.resolve("m").toString(), "--dry-run", "--batch-size", "512")
            .out();
    assertTrue(plan.contains("KV cache (512 x"), plan);
  }

  @Test
  void conflictingOptionsAreRefused() {
    TinyModels.writeRandom(tmp.resolve("m"), TinyModels.TINY, 1);
    CliRunner.assertRefused(
        "--interactive reads its prompts from standard input: it takes no --prompt, --prompt-file"
            + " or --unconditional (see --help)",
        "sample",
        "--model-dir",
        tmp.resolve("m").toString(),
        "--interactive",
        "--prompt",
        "hi");
    CliRunner.assertRefused(
        "--like 124M sets n_layer, n_head, n_embd and n_ctx: give --like or those four, not"
            + " --n-layer too (see --help)",
        "init",
        "--model-dir",
        tmp.resolve("new").toString(),
        "--like",
        "124M",
        "--n-layer",
        "2");
    CliRunner.assertRefused(
        "--task 0 is the chief, which train runs (train --cluster ...); a worker is task 1..1"
            + " (see --help)",
        "worker",
        "--cluster",
        "127.0.0.1:1,127.0.0.1:2",
        "--task",
        "0");
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine
    CliRunner.assertRefused(
        "--task's address 192.0.2.1:2 is not this machine (192.0.2.1 is 192.0.2.1): start this"
            + " worker on 192.0.2.1 (see --help)",
        "worker",
        "--cluster",
        "127.0.0.1:1,192.0.2.1:2",
        "--task",
        "1");
    assertFalse(Files.exists(tmp.resolve("new")));
  }

  @Test
  void aDirectoryThatCannotBeWrittenIsNamedWithTheReason() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    Path text =
        Files.writeString(tmp.resolve("t.txt"), "To be, or not to be, that is the question.");
    CliRunner.assertRefused(
        "--out: cannot write " + file + ": " + file + " is not a directory",
        "prepare",
        "--input",
        text.toString(),
        "--out",
        file.toString());
    CliRunner.assertRefused(
        "--model-dir: cannot write " + file.resolve("m") + ": " + file + " is not a directory",
        "init",
        "--model-dir",
        file.resolve("m").toString(),
        "--like",
        "124M");
    Path data = TinyData.write(tmp.resolve("data"));
    CliRunner.assertRefused(
        "out_dir: cannot write " + file + ": " + file + " is not a directory",
        "train",
        "--out_dir=" + file,
        "--data_dir=" + data);
  }

  // it crashed the JVM (SIGSEGV in TF's threads as the JVM exited mid-step), leaving hs_err files
  @Test
  void ctrlCDuringBenchTrainStopsBetweenSteps() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeFalse(
        dev.gpt2j.testing.Signals.interruptIgnored(),
        "SIGINT is ignored in this process (started in the background?): Ctrl-C not tested");
    Process p =
        new ProcessBuilder(
                CliProcess.command(
                    List.of("bench-train", "--only", "baby", "--dtype", "float32", "--xla-only")))
            .directory(tmp.toFile())
            .redirectErrorStream(true)
            .start();
    StringBuilder seen = new StringBuilder();
    try (BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = out.readLine()) != null; ) {
        seen.append(line).append('\n');
        if (line.startsWith("baby")) {
          assertEquals(0, new ProcessBuilder("kill", "-INT", "" + p.pid()).start().waitFor());
        }
      }
    } finally {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), seen.toString());
      p.destroyForcibly();
    }
    assertEquals(130, p.exitValue(), seen.toString());
    assertTrue(seen.toString().endsWith("stopped\n"), seen.toString());
    try (var left = Files.list(tmp)) {
      assertEquals(List.of(), left.toList(), "files left in the working directory");
    }
  }

  @Test
  void aRefusedRunLeavesNothing() throws Exception {
    CliRunner.Outcome ftp =
        CliRunner.run(
            "prepare", "--url", "ftp://example.com/x.txt", "--out", tmp.resolve("d").toString());
    assertEquals(2, ftp.code(), ftp.err());
    assertFalse(Files.exists(tmp.resolve("d")), "prepare left its out dir");
    // a model whose data file was cut short: refused when restored, after the lock was taken
    Path model = tmp.resolve("m");
    TinyModels.writeRandom(model, TinyModels.TINY, 1);
    try (var files = Files.list(model)) {
      Path dataFile =
          files
              .filter(f -> f.getFileName().toString().contains(".data-"))
              .findFirst()
              .orElseThrow();
      Files.write(dataFile, new byte[10]);
    }
    Path data = TinyData.write(tmp.resolve("data"));
    CliRunner.Outcome o =
        CliRunner.run(
            "train",
            "--init_from=" + model,
            "--out_dir=" + tmp.resolve("run"),
            "--data_dir=" + data,
            "--block_size=16",
            "--batch_size=2",
            "--xla=false");
    assertTrue(o.code() != 0, o.err());
    assertEquals(1, o.err().lines().count(), o.err());
    assertFalse(Files.exists(tmp.resolve("run")), "the run left " + tmp.resolve("run"));
    assertTrue(Files.exists(data.resolve(Prepare.TRAIN)));
  }
}
