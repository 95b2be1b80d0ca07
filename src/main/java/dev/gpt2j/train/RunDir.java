package dev.gpt2j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.checkpoint.CheckpointException;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.train.graph.TrainStep;
import dev.gpt2j.util.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training run's directory. The model is an OpenAI-layout directory (checkpoint, hparams.json,
 * model.ckpt-N.*), so sample/score and openai/gpt-2's sample.py read it as it is; beside it,
 * optimizer.ckpt-N.* and train-N.json hold what only a resumed run needs. A save writes all of step
 * N first and then points the {@code checkpoint} file at model.ckpt-N (an atomic rename): a crash
 * at any moment leaves the previous step complete and named by {@code checkpoint}.
 */
public final class RunDir {
  static final Pattern MODEL_PREFIX = Pattern.compile("model\\.ckpt-(\\d+)");
  public static final String BEST = "best";
  public static final String CONFIG = "config.properties";

  /** What a resumed run continues from. */
  public record Saved(int iter, double bestValLoss, Path modelPrefix, Path optimizerPrefix) {}

  private final Path dir;

  public RunDir(Path dir) {
    this.dir = dir;
  }

  public Path path() {
    return dir;
  }

  public Path resolve(String name) {
    return dir.resolve(name);
  }

  /** Whether a step was saved here (the run's checkpoint file exists). */
  public boolean hasCheckpoint() {
    return Files.exists(dir.resolve(ModelDir.CHECKPOINT_FILE));
  }

  /**
   * Creates the directory and writes what does not change during a run (a character vocabulary's
   * chars.json too).
   */
  public void prepare(HParams hp, TrainConfig config, Tokenizer tokenizer) {
    try {
      Files.createDirectories(dir);
      if (tokenizer instanceof CharTokenizer chars) {
        chars.write(dir);
      }
      AtomicFiles.writeString(dir.resolve(HParams.FILE_NAME), hp.toJson());
      AtomicFiles.writeString(dir.resolve(CONFIG), config.toProperties());
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot prepare run directory: " + e.getMessage(), e);
    }
  }

  /**
   * Saves step {@code iter} and commits it; older steps are then removed. If the save fails (a full
   * disk), what it wrote of step {@code iter} is removed and the committed step stays.
   */
  public void save(int iter, double bestValLoss, TrainStep step, Tokenizer tokenizer) {
    try {
      step.saveModel(dir.resolve("model.ckpt-" + iter));
      step.saveOptimizer(dir.resolve("optimizer.ckpt-" + iter));
      writeJson(
          dir.resolve("train-" + iter + ".json"),
          Map.of("iter", iter, "best_val_loss", bestValLoss));
    } catch (RuntimeException e) {
      removeSteps(n -> n == iter);
      throw e;
    }
    // at the first save: a run stopped before it needs none
    ModelDir.writeTokenizerFiles(dir, tokenizer);
    ModelDir.writeCheckpointFile(dir, "model.ckpt-" + iter);
    removeSteps(n -> n != iter);
  }

  /** The committed step, for init_from=resume. */
  public Saved latest() {
    Path prefix = ModelDir.latestCheckpoint(dir);
    Matcher m = MODEL_PREFIX.matcher(prefix.getFileName().toString());
    if (!m.matches()) {
      throw new CheckpointException(
          dir.resolve(ModelDir.CHECKPOINT_FILE)
              + ": names "
              + prefix.getFileName()
              + ", not a training step (model.ckpt-N)");
    }
    int iter = Integer.parseInt(m.group(1));
    Path state = dir.resolve("train-" + iter + ".json");
    try {
      double best = new ObjectMapper().readTree(state.toFile()).get("best_val_loss").asDouble();
      return new Saved(iter, best, prefix, dir.resolve("optimizer.ckpt-" + iter));
    } catch (IOException | NullPointerException e) {
      throw new CheckpointException(state + ": cannot read the run state of step " + iter);
    }
  }

  private void writeJson(Path file, Map<String, Object> values) {
    try {
      AtomicFiles.writeString(file, new ObjectMapper().writeValueAsString(values) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void removeSteps(IntPredicate which) {
    Pattern step = Pattern.compile("(model\\.ckpt|optimizer\\.ckpt|train)-(\\d+)(\\..*)?");
    try (Stream<Path> files = Files.list(dir)) {
      files
          .filter(
              f -> {
                Matcher m = step.matcher(f.getFileName().toString());
                return m.matches() && which.test(Integer.parseInt(m.group(2)));
              })
          .forEach(AtomicFiles::deleteQuietly);
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot list: " + e.getMessage(), e);
    }
  }

  /** Replaces {@code best/} with the current model, as a complete OpenAI-layout directory. */
  public void saveBest(HParams hp, TrainStep step, Tokenizer tokenizer) {
    Path best = dir.resolve(BEST);
    Path old = dir.resolve(".best-old");
    AtomicFiles.deleteRecursively(old);
    try {
      Path fresh = dir.resolve(".best-new");
      AtomicFiles.deleteRecursively(fresh);
      ModelDir.writeNew(fresh, hp, tokenizer, step::saveModel);
      if (Files.exists(best)) {
        Files.move(best, old);
      }
      Files.move(fresh, best);
      AtomicFiles.deleteRecursively(old);
    } catch (IOException e) {
      throw new UncheckedIOException(best + ": cannot replace: " + e.getMessage(), e);
    }
  }
}
