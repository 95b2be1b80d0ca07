package dev.gpt2j.util;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/** Writes that never leave a half-written file: temp file beside the target, then rename. */
public final class AtomicFiles {
  private AtomicFiles() {}

  public static void writeString(Path target, String text) {
    write(target, text.getBytes(StandardCharsets.UTF_8));
  }

  public static void write(Path target, byte[] bytes) {
    Path tmp = tempSibling(target);
    try {
      Files.write(tmp, bytes);
      move(tmp, target);
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new UncheckedIOException(target + ": cannot write: " + e.getMessage(), e);
    }
  }

  /** Renames {@code from} to {@code to} atomically, replacing {@code to} if it is a file. */
  public static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** A fresh name in the same directory, so that the final rename stays on one file system. */
  public static Path tempSibling(Path target) {
    return target.resolveSibling(
        "."
            + target.getFileName()
            + ".tmp-"
            + ProcessHandle.current().pid()
            + "-"
            + System.nanoTime());
  }

  public static void deleteRecursively(Path path) {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      walk.sorted(Comparator.reverseOrder()).forEach(AtomicFiles::deleteQuietly);
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot delete: " + e.getMessage(), e);
    }
  }

  /** Removes {@code dir} if it is an empty directory; leaves anything else as it is. */
  public static void deleteIfEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException notEmpty) {
      // it holds something worth keeping
    }
  }

  public static void deleteQuietly(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException ignored) {
      // best effort: a leftover temp file is harmless, its name says what it is
    }
  }
}
