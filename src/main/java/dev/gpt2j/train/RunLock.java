package dev.gpt2j.train;

import dev.gpt2j.checkpoint.CheckpointException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One writer per run directory: an OS file lock on {@code .lock} inside it, held while the run
 * lasts. The kernel drops the lock when its process dies, however it dies, so a killed run never
 * blocks the next one; the file keeps the holder's PID, to name it when a second run is refused.
 */
final class RunLock implements AutoCloseable {
  static final String FILE = ".lock";

  private final FileChannel channel;
  private final FileLock lock;

  private RunLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock of {@code dir} (created if missing), or refuses in one line naming the holder.
   */
  static RunLock acquire(Path dir) {
    Path file = dir.resolve(FILE);
    FileChannel channel = null;
    try {
      Files.createDirectories(dir);
      channel =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock = tryLock(channel);
      if (lock == null) {
        String holder = holder(channel);
        channel.close();
        throw new CheckpointException(
            dir
                + " is in use by another training run ("
                + holder
                + "); wait for it to end or choose another out_dir");
      }
      channel.truncate(0);
      channel.write(
          ByteBuffer.wrap(
              (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)),
          0);
      return new RunLock(channel, lock);
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException(
          file + ": cannot lock the run directory: " + e.getMessage(), e);
    }
  }

  // null when another process, or another run in this one, holds it
  private static FileLock tryLock(FileChannel channel) throws IOException {
    try {
      return channel.tryLock();
    } catch (OverlappingFileLockException e) {
      return null;
    }
  }

  private static String holder(FileChannel channel) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(32);
    channel.read(buf, 0);
    String pid = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).trim();
    return pid.isEmpty() ? "a process that has not written its PID yet" : "process " + pid;
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      if (channel != null) {
        channel.close();
      }
    } catch (IOException ignored) {
      // closing releases the lock; nothing else to undo
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
    } catch (IOException ignored) {
      // the channel's close below releases it too
    }
    closeQuietly(channel);
  }
}
