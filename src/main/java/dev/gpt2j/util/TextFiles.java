package dev.gpt2j.util;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading a text file a user named, with one clear line for each way it can be wrong. */
public final class TextFiles {
  private TextFiles() {}

  /**
   * The whole of {@code file} as UTF-8 text, or an IllegalArgumentException saying in one line that
   * it is missing, a directory, unreadable or not UTF-8: "--option: FILE not found" when the name
   * came from {@code option}, else "FILE: not found".
   */
  public static String readUtf8(Path file, String option) {
    return read(file, option, () -> Files.readString(file, StandardCharsets.UTF_8));
  }

  /**
   * The same checks as {@link #readUtf8}, reading the file a buffer at a time and keeping none of
   * it: for checking many files before working on any.
   */
  public static void requireUtf8(Path file, String option) {
    read(
        file,
        option,
        () -> {
          try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            char[] buffer = new char[1 << 16];
            while (r.read(buffer) >= 0) {
              // decoding is the check
            }
          }
          return null;
        });
  }

  private interface Read {
    String text() throws IOException;
  }

  private static String read(Path file, String option, Read read) {
    String name = option == null ? file + ":" : option + ": " + file;
    if (Files.isDirectory(file)) {
      throw new IllegalArgumentException(name + " is a directory, not a file");
    }
    try {
      return read.text();
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(name + " not found");
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(name + " is not UTF-8 text");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException(name + " cannot be read (permission denied)");
    } catch (IOException e) {
      throw new IllegalArgumentException(name + " cannot be read (" + e.getMessage() + ")");
    }
  }
}
