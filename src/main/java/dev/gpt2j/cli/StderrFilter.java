package dev.gpt2j.cli;

import dev.gpt2j.util.LibC;
import dev.gpt2j.util.Terminal;
import java.io.BufferedOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Keeps TF's C++ log lines off standard error. TF 2.18 logs through absl, which ignores
 * TF_CPP_MIN_LOG_LEVEL and is linked into TF's libraries (twice: libtensorflow_cc keeps a copy of
 * its own with no exported setter), so this process's standard error becomes a pipe that a thread
 * copies to the real one, minus absl's INFO/WARNING lines and protobuf's complaint each time TF
 * reads a cached XLA executable (it tries the text format before the binary one, which works).
 * Everything else (our messages, progress bars) passes through as it comes.
 */
final class StderrFilter {
  private static final List<byte[]> NOISE_PREFIXES =
      Stream.of("WARNING: All log messages before absl::InitializeLog()")
          .map(p -> p.getBytes(StandardCharsets.US_ASCII))
          .toList();

  // protobuf's lines are held whole and dropped when they are about TF's XLA cache entries (it
  // tries the text format of each before the binary one; a damaged entry is recompiled)
  private static final byte[] PROTOBUF = "[libprotobuf ".getBytes(StandardCharsets.US_ASCII);
  private static final String XLA_CACHE_ENTRY = "XlaSerializedCacheEntry";
  private static final Pattern ABSL_LINE = Pattern.compile("^[IW]\\d{4} .*");

  private StderrFilter() {}

  /** Puts the filter in place for the rest of the process; it drains when the JVM exits. */
  static void install() {
    int original = LibC.dup(LibC.STDERR);
    int[] pipe = LibC.pipe();
    InputStream in;
    try {
      in = new FileInputStream("/proc/self/fd/" + pipe[0]);
    } catch (IOException e) {
      LibC.close(pipe[0]);
      LibC.close(pipe[1]);
      return; // no /proc: the log shows
    }
    LibC.close(pipe[0]);
    Terminal.stderrIsAt(original); // progress bars ask the user's terminal, not the pipe
    LibC.dup2(pipe[1], LibC.STDERR);
    LibC.close(pipe[1]);
    // a native abort (a TF CHECK failure, the JVM's fatal error) writes its message into the pipe
    // and ends the process: the process waits a moment first, so that the copier passes it on
    LibC.pauseBeforeAbort();
    Thread copier =
        new Thread(
            () -> {
              try (in;
                  OutputStream out = new BufferedOutputStream(toDescriptor(original))) {
                filter(in, out);
              } catch (IOException ignored) {
                // standard error is gone: nothing left to show
              }
            },
            "stderr-filter");
    copier.setDaemon(true);
    copier.start();
    // at exit, give standard error back (closing the pipe) and let the copier pass its last lines
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  LibC.dup2(original, LibC.STDERR);
                  try {
                    copier.join(2000);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                }));
  }

  private static OutputStream toDescriptor(int fd) {
    return new OutputStream() {
      @Override
      public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        LibC.write(fd, off == 0 ? b : Arrays.copyOfRange(b, off, off + len), len);
      }
    };
  }

  /**
   * Copies {@code in} to {@code out} line by line, minus absl's INFO/WARNING lines, reading blocks
   * as they come and passing each on before waiting for the next.
   */
  static void filter(InputStream in, OutputStream out) throws IOException {
    byte[] block = new byte[BLOCK];
    byte[] line = new byte[8192];
    int len = 0;
    boolean passing = false; // the current line is known to be ours: copy straight through
    boolean dropping = false;
    int n;
    while ((n = in.read(block)) != -1) {
      for (int i = 0; i < n; i++) {
        byte b = block[i];
        if (passing) {
          out.write(b);
        } else if (!dropping) {
          line[len++] = b;
          Boolean noise = classify(line, len);
          if (noise == Boolean.FALSE || len == line.length) {
            out.write(line, 0, len);
            passing = true;
          } else if (noise == Boolean.TRUE) {
            dropping = true;
          }
        }
        if (b == '\n' || b == '\r') {
          if (!passing && !dropping && len > 0 && !xlaCacheComplaint(line, len)) {
            out.write(line, 0, len);
          }
          len = 0;
          passing = false;
          dropping = false;
        }
      }
      out.flush();
    }
    out.flush();
  }

  private static final int BLOCK = 65536;

  private static boolean xlaCacheComplaint(byte[] line, int len) {
    return startsWith(line, len, PROTOBUF)
        && new String(line, 0, len, StandardCharsets.UTF_8).contains(XLA_CACHE_ENTRY);
  }

  private static boolean startsWith(byte[] line, int len, byte[] prefix) {
    return len >= prefix.length && Arrays.equals(line, 0, prefix.length, prefix, 0, prefix.length);
  }

  /** TRUE: a log line to drop; FALSE: not one; null: too early to say (or held to its end). */
  private static Boolean classify(byte[] line, int len) {
    if (Arrays.equals(
        line, 0, Math.min(len, PROTOBUF.length), PROTOBUF, 0, Math.min(len, PROTOBUF.length))) {
      return null; // a protobuf line, held whole: see xlaCacheComplaint
    }
    for (byte[] prefix : NOISE_PREFIXES) {
      if (Arrays.equals(
          line, 0, Math.min(len, prefix.length), prefix, 0, Math.min(len, prefix.length))) {
        return len >= prefix.length ? Boolean.TRUE : null;
      }
    }
    if (len < 6) {
      return (line[0] == 'I' || line[0] == 'W') && allDigits(line, 1, len) ? null : Boolean.FALSE;
    }
    return ABSL_LINE.matcher(new String(line, 0, 6, StandardCharsets.US_ASCII)).matches();
  }

  private static boolean allDigits(byte[] line, int from, int to) {
    for (int i = from; i < to; i++) {
      if (line[i] < '0' || line[i] > '9') {
        return false;
      }
    }
    return true;
  }
}
