package dev.gpt2j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.train.graph.TrainStep;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A save onto a full file system (a real 48 KB tmpfs) fails in one line and leaves nothing. */
@Tag("process")
class FullDiskTest {
  @TempDir Path tmp;

  @Test
  void aSaveThatRunsOutOfSpaceLeavesNoPartialFiles() throws Exception {
    Path disk = Files.createDirectories(tmp.resolve("small"));
    Assumptions.assumeTrue(
        mount(disk, 48),
        "skipped: cannot mount a small tmpfs here (needs root and mount permission)");
    try (Gpt2Model model = Gpt2Model.fresh(TinyModels.TINY, 1)) {
      // a new model directory (staged, then renamed)
      CheckpointException e =
          assertThrows(CheckpointException.class, () -> model.save(disk.resolve("m")));
      assertTrue(e.getMessage().contains(": cannot save: "), e.getMessage());
      assertEquals(1, e.getMessage().lines().count(), e.getMessage());
      assertEquals(List.of(), list(disk), "files left on the full disk");
    } finally {
      run("umount", disk.toString());
    }
  }

  // SaveV2 writes the data file, then the index: the disk may fill in either; sizes step across
  // both
  @Test
  void aTrainingCheckpointThatRunsOutOfSpaceLeavesNoPartialFiles() throws Exception {
    Path disk = Files.createDirectories(tmp.resolve("small"));
    try (TrainStep step =
        new TrainStep(
            TinyModels.TINY,
            Steps.of(
                TinyModels.TINY, Map.of("xla", "false", "block_size", "16", "batch_size", "1")))) {
      step.initialize(1);
      int failures = 0;
      for (int kb = 48; kb <= 96; kb += 4) {
        Assumptions.assumeTrue(
            mount(disk, kb),
            "skipped: cannot mount a small tmpfs here (needs root and mount permission)");
        try {
          step.saveModel(disk.resolve("model.ckpt-7"));
          assertEquals(
              List.of("model.ckpt-7.data-00000-of-00001", "model.ckpt-7.index"), list(disk));
        } catch (CheckpointException e) {
          failures++;
          assertTrue(
              e.getMessage().startsWith(disk.resolve("model.ckpt-7") + ": cannot save: "),
              e.getMessage());
          assertEquals(List.of(), list(disk), "files left on a " + kb + " KB disk");
        } finally {
          run("umount", disk.toString());
        }
      }
      assertTrue(failures >= 2, "the disk never filled: " + failures + " failed saves");
    }
  }

  private static boolean mount(Path dir, int kb) throws IOException, InterruptedException {
    return run("mount", "-t", "tmpfs", "-o", "size=" + kb + "k", "tmpfs", dir.toString());
  }

  private static List<String> list(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> !p.equals(dir)).map(p -> dir.relativize(p).toString()).sorted().toList();
    }
  }

  private static boolean run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
  }
}
