package dev.gpt2j.cli;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.util.Ticker;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Loads a model for a command, saying so on {@code err} when it takes more than a moment, and then
 * which dtype auto picked, if it did.
 */
final class ModelLoading {
  private static final long QUIET_S = 2;

  private ModelLoading() {}

  static Gpt2Model load(Path dir, DTypeOption.Chosen dtype, PrintStream err) {
    Gpt2Model model;
    try (Ticker ticker = Ticker.after(QUIET_S, err, "loading " + dir)) {
      model = Gpt2Model.load(dir, dtype.dtype());
    }
    if (!dtype.why().isEmpty()) {
      err.println(dtype.why());
    }
    return model;
  }
}
