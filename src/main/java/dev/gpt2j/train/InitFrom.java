package dev.gpt2j.train;

import java.nio.file.Path;

/**
 * Where a run's weights come from: a new model ({@code scratch}), the run in out_dir ({@code
 * resume}), or an OpenAI-layout model directory to fine-tune.
 *
 * @param modelDir the directory to fine-tune, else null
 */
public record InitFrom(Kind kind, Path modelDir) {
  public enum Kind {
    SCRATCH,
    RESUME,
    MODEL_DIR
  }

  /** {@code scratch}, {@code resume}, or a model directory's path. */
  public static InitFrom parse(String text) {
    return switch (text) {
      case "scratch" -> new InitFrom(Kind.SCRATCH, null);
      case "resume" -> new InitFrom(Kind.RESUME, null);
      default -> new InitFrom(Kind.MODEL_DIR, Path.of(text));
    };
  }

  @Override
  public String toString() {
    return kind == Kind.MODEL_DIR
        ? modelDir.toString()
        : kind.name().toLowerCase(java.util.Locale.ROOT);
  }
}
