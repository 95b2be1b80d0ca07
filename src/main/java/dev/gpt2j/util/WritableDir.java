package dev.gpt2j.util;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Checks, before any work, that a directory a command will write can be made there: one line naming
 * the option, the path and why not (not a directory, permission denied, a read-only file system).
 * Creates nothing.
 */
public final class WritableDir {
  private WritableDir() {}

  /**
   * Throws {@link IllegalArgumentException} when {@code dir} (given as {@code option}) cannot be
   * written.
   */
  public static void require(Path dir, String option) {
    require(dir, dir, option);
  }

  /**
   * The same for a file a command will write at the end of its work ({@code --per-example}): its
   * directory can be made and written, and the file is not a directory.
   */
  public static void requireFile(Path file, String option) {
    if (Files.isDirectory(file)) {
      throw refused(file, option, "it is a directory; expected a file name");
    }
    require(file.toAbsolutePath().normalize().getParent(), file, option);
  }

  // dir can be made and written; a refusal names `named`
  private static void require(Path dir, Path named, String option) {
    Path existing = dir.toAbsolutePath().normalize();
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      throw refused(named, option, "no part of it exists");
    }
    if (!Files.isDirectory(existing)) {
      throw refused(named, option, existing + " is not a directory");
    }
    try { // a probe in the deepest directory that exists: what creating dir would meet
      Files.delete(Files.createTempDirectory(existing, ".gpt2j-write-test"));
    } catch (AccessDeniedException e) {
      throw refused(named, option, "permission denied in " + existing);
    } catch (FileSystemException e) {
      throw refused(named, option, reason(e) + " in " + existing);
    } catch (IOException e) {
      throw refused(named, option, e.getMessage() + " in " + existing);
    }
  }

  // the OS's reason, as Java names it (a NoSuchFileException: a file system such as /proc, where
  // nothing can be created)
  private static String reason(FileSystemException e) {
    if (e.getReason() != null) {
      return e.getReason().toLowerCase();
    }
    return e instanceof NoSuchFileException
        ? "nothing can be created"
        : e.getClass().getSimpleName();
  }

  private static IllegalArgumentException refused(Path dir, String option, String why) {
    return new IllegalArgumentException(option + ": cannot write " + dir + ": " + why);
  }
}
