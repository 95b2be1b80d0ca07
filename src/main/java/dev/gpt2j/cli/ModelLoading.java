package dev.gpt2j.cli;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.DType;
import dev.gpt2j.util.Ticker;
import java.io.PrintStream;
import java.nio.file.Path;

/** Loads a model for a command, saying so on {@code err} when it takes more than a moment. */
final class ModelLoading {
  private static final long QUIET_S = 2;

  private ModelLoading() {}

  static Gpt2Model load(Path dir, DType dtype, PrintStream err) {
    try (Ticker ticker = Ticker.after(QUIET_S, err, "loading " + dir)) {
      return Gpt2Model.load(dir, dtype);
    }
  }
}
