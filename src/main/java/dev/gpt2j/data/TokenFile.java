package dev.gpt2j.data;

import dev.gpt2j.util.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** nanoGPT's token files: GPT-2 token ids as little-endian uint16, nothing else. */
public final class TokenFile {
  private TokenFile() {}

  /** How many distinct ids a token file can hold. */
  public static final int IDS = 1 << 16;

  /** Writes {@code tokens} atomically; every id must fit in uint16. */
  public static void write(Path file, int[] tokens) {
    ByteBuffer buf = ByteBuffer.allocate(tokens.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (int t : tokens) {
      if (t < 0 || t > 0xFFFF) {
        throw new IllegalArgumentException(file + ": token id " + t + " does not fit uint16");
      }
      buf.putShort((short) t);
    }
    AtomicFiles.write(file, buf.array());
  }

  /** Reads all token ids of {@code file}. */
  public static char[] read(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size % 2 != 0) {
        throw new IllegalArgumentException(
            file + ": " + size + " bytes is not a whole number of " + "uint16 tokens");
      }
      if (size / 2 > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(file + ": more than 2^31 tokens");
      }
      ByteBuffer bytes =
          ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
      char[] tokens = new char[(int) (size / 2)];
      bytes.asCharBuffer().get(tokens);
      return tokens;
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(
          file + ": not found (run `make data` or the prepare command)");
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
    }
  }
}
