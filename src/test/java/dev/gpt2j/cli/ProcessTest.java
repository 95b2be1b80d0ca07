package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.data.Prepare;
import dev.gpt2j.data.TokenFile;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.train.RunDir;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI as a user runs it, in real processes: one process per command (nothing outlives it), one
 * writer per run directory, and signals that stop training with its step saved.
 */
@Tag("process")
class ProcessTest {
  @TempDir Path tmp;
  Path data;
  Path run;

  @BeforeEach
  void tokens() {
    data = tmp.resolve("data");
    Random r = new Random(1);
    int[] train = new int[20_000];
    for (int i = 0; i < train.length; i++) {
      train[i] = r.nextInt(1000);
    }
    try {
      Files.createDirectories(data);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    TokenFile.write(data.resolve(Prepare.TRAIN), train);
    TokenFile.write(data.resolve(Prepare.VAL), java.util.Arrays.copyOf(train, 2000));
    run = tmp.resolve("run");
  }

  // a run that goes on until stopped; `more` overrides (the last value of a key wins)
  private String[] trainArgs(String initFrom, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "train",
                "--init_from=" + initFrom,
                "--data_dir=" + data,
                "--out_dir=" + run,
                "--n_layer=1",
                "--n_head=2",
                "--n_embd=16",
                "--n_ctx=16",
                "--block_size=16",
                "--batch_size=2",
                "--xla=false",
                "--log_interval=1",
                "--eval_interval=1000000",
                "--eval_iters=1",
                "--sample_interval=0",
                "--max_iters=1000000",
                "--lr_decay_iters=1000000"));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  /** `java ... Main train ...`, started and read until it reports its first step. */
  private static final class Cli implements AutoCloseable {
    final Process process;
    final List<String> out = new ArrayList<>();
    final BufferedReader reader;

    Cli(String... argv) throws IOException {
      List<String> cmd = CliProcess.command(List.of(argv));
      process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE).start();
      reader =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    void awaitLine(String prefix) throws IOException {
      for (String line; (line = reader.readLine()) != null; ) {
        out.add(line);
        if (line.startsWith(prefix)) {
          return;
        }
      }
      throw new AssertionError(
          "ended before '"
              + prefix
              + "': "
              + out
              + " "
              + new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
      process.toHandle().destroyForcibly();
    }
  }

  @Test
  void killDashNineStopsAllTrainingAndTheLockDoesNotOutliveIt() throws Exception {
    try (Cli first = new Cli(trainArgs("scratch"))) {
      first.awaitLine("iter 2/");
      assertEquals(0, first.process.descendants().count(), "the command started other processes");

      // a second writer is refused at once, naming the directory and the process
      CliRunner.Outcome second = CliRunner.run(trainArgs("resume"));
      assertEquals(2, second.code(), second.err());
      assertEquals(
          "gpt2 train: "
              + run
              + " is in use by another training run (process "
              + first.process.pid()
              + "); wait for it to end or choose another out_dir\n",
          second.err());

      first.process.toHandle().destroyForcibly(); // SIGKILL
      assertTrue(first.process.waitFor(10, TimeUnit.SECONDS));
    }
    // it was killed before any save: nothing to resume, and no lock in the way of a new run
    assertFalse(Files.exists(run.resolve("checkpoint")));
    CliRunner.Outcome again =
        CliRunner.run(
            trainArgs("scratch", "--max_iters=2", "--warmup_iters=0", "--lr_decay_iters=2"));
    assertEquals(0, again.code(), again.err());
    assertEquals(2, new RunDir(run).latest().iter());
  }
}
