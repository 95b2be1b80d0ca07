package dev.gpt2j.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpt2j.cli.CliRunner;
import java.nio.file.Path;

/** export-gguf as the tests run it: a model directory written to {@code file}, which it returns. */
final class Exports {
  private Exports() {}

  static Path gguf(Path dir, Path file, String ftype) {
    CliRunner.Outcome o =
        CliRunner.run(
            "export-gguf",
            "--model-dir",
            dir.toString(),
            "--out",
            file.toString(),
            "--ftype",
            ftype);
    assertEquals(0, o.code(), o.err());
    return file;
  }
}
