package dev.gpt2j.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Files in ../shared beside the project (the CI and developer machines have it; a clone may not).
 */
public final class SharedFiles {
  private SharedFiles() {}

  public static Path require(String relative) {
    Path dir = Path.of(System.getProperty("gpt2.shared", "../shared"));
    Path file = dir.resolve(relative);
    Assumptions.assumeTrue(
        Files.isRegularFile(file),
        "skipped: "
            + file.toAbsolutePath().normalize()
            + " is absent (needs ../shared beside the project)");
    return file;
  }
}
