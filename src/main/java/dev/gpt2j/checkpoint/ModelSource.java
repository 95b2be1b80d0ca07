package dev.gpt2j.checkpoint;

import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.file.Path;

/**
 * A model directory read once: its shape (hparams.json) and its tokenizer (chars.json, else GPT-2's
 * BPE). Commands plan and check their input against these before any weight is restored; a dry run
 * needs no checkpoint at all.
 */
public record ModelSource(Path dir, HParams hparams, Tokenizer tokenizer) {

  /** Reads {@code dir}; errors name the file and what is wrong with it. */
  public static ModelSource read(Path dir) {
    return new ModelSource(dir, ModelDir.hparams(dir), Tokenizer.of(dir));
  }

  /** The checkpoint prefix the directory's {@code checkpoint} file names. */
  public Path checkpoint() {
    return ModelDir.latestCheckpoint(dir);
  }
}
