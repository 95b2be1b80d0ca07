package dev.gpt2j.train;

import dev.gpt2j.checkpoint.CheckpointException;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelSize;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The model a run trains, resolved from init_from before anything is loaded: its shape and its
 * tokenizer, from the run being resumed, the model directory being fine-tuned, or the config and
 * the data for a new model. Each source is checked before its files are read.
 */
record RunModel(HParams hparams, Tokenizer tokenizer) {

  static RunModel of(TrainConfig c, RunDir run) {
    requireSource(c, run);
    Tokenizer tokenizer = tokenizer(c, run);
    return new RunModel(hparams(c, run, tokenizer), tokenizer);
  }

  // the run to resume, or the model directory to fine-tune, is there (checked before its files)
  private static void requireSource(TrainConfig c, RunDir run) {
    if (c.initFrom().kind() == InitFrom.Kind.RESUME && !run.hasCheckpoint()) {
      if (Files.exists(run.resolve(RunLock.FILE))) { // a run before its first save: say so
        RunLock.acquire(run.path()).close();
      }
      throw new CheckpointException(
          "init_from=resume: "
              + run.path()
              + " holds no run to resume (no checkpoint file); start one with init_from=scratch");
    }
    Path dir = c.initFrom().modelDir();
    if (c.initFrom().kind() == InitFrom.Kind.MODEL_DIR
        && !Files.isDirectory(dir)
        && !(c.dryRun() && ModelSize.named(dir).isPresent())) {
      throw new CheckpointException(
          "init_from: "
              + dir
              + " is not a model directory; expected scratch, resume, or a directory in OpenAI's"
              + " layout (checkpoints/124M after make download MODEL=124M)");
    }
  }

  // the model's vocabulary: the data's for a new model, else the model directory's, which the
  // data's must be
  private static Tokenizer tokenizer(TrainConfig c, RunDir run) {
    Tokenizer data = Tokenizer.of(c.dataDir());
    Tokenizer model =
        switch (c.initFrom().kind()) {
          case SCRATCH -> data;
          case RESUME -> Tokenizer.of(run.path());
          case MODEL_DIR -> Tokenizer.of(c.initFrom().modelDir());
        };
    boolean dataChars = data instanceof CharTokenizer;
    if (dataChars != model instanceof CharTokenizer) {
      throw new IllegalArgumentException(
          "data_dir: "
              + c.dataDir()
              + (dataChars ? " holds character ids (chars.json)" : " holds GPT-2 token ids")
              + ", but the model "
              + (dataChars ? "reads GPT-2's tokens" : "reads characters (chars.json)")
              + "; prepare the data with the model's tokenizer");
    }
    return model;
  }

  private static HParams hparams(TrainConfig c, RunDir run, Tokenizer tokenizer) {
    if (c.initFrom().kind() == InitFrom.Kind.RESUME) {
      return ModelDir.readHParams(run.resolve(HParams.FILE_NAME));
    }
    if (run.hasCheckpoint()) {
      throw new CheckpointException(
          run.path()
              + " already holds a run; continue it with "
              + "init_from=resume or choose another out_dir (nothing was changed)");
    }
    if (c.initFrom().kind() == InitFrom.Kind.SCRATCH) {
      return c.scratchModel(tokenizer.size());
    }
    return modelShape(c.initFrom().modelDir(), c.dryRun());
  }

  // a dry run plans a fine-tune of OpenAI's checkpoints/774M before its download: a directory
  // named after one of OpenAI's sizes and holding no hparams.json has that size's shape
  private static HParams modelShape(Path dir, boolean dryRun) {
    if (dryRun && !Files.exists(dir.resolve(HParams.FILE_NAME))) {
      Optional<ModelSize> size = ModelSize.named(dir);
      if (size.isPresent()) {
        return size.get().hparams;
      }
    }
    return ModelDir.hparams(dir);
  }
}
