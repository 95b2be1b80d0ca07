package dev.gpt2j.util;

import com.sun.jna.Function;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.util.List;

/**
 * The few C library calls Java has no API for, through JNA: a process's own environment (TF reads
 * its settings with getenv when its library loads, and {@code System.getenv} is a read-only copy),
 * whether a file descriptor is a terminal and how wide (to draw progress bars only on one), the
 * descriptor calls that put a filter between native code and standard error, and exec.
 */
public final class LibC {
  private interface C extends Library {
    int setenv(String name, String value, int overwrite);

    int isatty(int fd);

    int ioctl(int fd, long request, short[] winsize);

    int dup(int fd);

    int dup2(int from, int to);

    int pipe(int[] fds);

    long write(int fd, byte[] bytes, long count);

    int close(int fd);

    int execv(String path, String[] argv);

    Pointer signal(int signal, Pointer handler);

    void _exit(int status);
  }

  private static final C C = Native.load("c", C.class);
  public static final int STDIN = 0;
  public static final int STDERR = 2;

  private LibC() {}

  /** Sets {@code name} in this process's C environment (read by native libraries loaded later). */
  public static void setenv(String name, String value) {
    if (C.setenv(name, value, 1) != 0) {
      throw new IllegalStateException(
          "setenv(" + name + ") failed: errno " + Native.getLastError());
    }
  }

  public static boolean isTerminal(int fd) {
    return C.isatty(fd) == 1;
  }

  private static final long TIOCGWINSZ = 0x5413; // Linux's request for a terminal's size

  /** The width of the terminal {@code fd} is on, in columns; 0 when it is not one. */
  public static int columns(int fd) {
    short[] winsize = new short[4]; // rows, columns, and two sizes in pixels
    return C.ioctl(fd, TIOCGWINSZ, winsize) == 0 ? Short.toUnsignedInt(winsize[1]) : 0;
  }

  /** A new descriptor for what {@code fd} refers to now. */
  public static int dup(int fd) {
    return check(C.dup(fd), "dup");
  }

  /** Makes {@code to} refer to what {@code from} does. */
  public static void dup2(int from, int to) {
    check(C.dup2(from, to), "dup2");
  }

  /** A pipe: its read end, then its write end. */
  public static int[] pipe() {
    int[] fds = new int[2];
    check(C.pipe(fds), "pipe");
    return fds;
  }

  /** Writes all of {@code bytes[0, count)} to {@code fd}. */
  public static void write(int fd, byte[] bytes, int count) {
    byte[] rest = bytes;
    int left = count;
    while (left > 0) {
      long n = C.write(fd, rest, left);
      if (n <= 0) {
        return; // the reader is gone: nothing else to do with these bytes
      }
      left -= (int) n;
      rest = java.util.Arrays.copyOfRange(rest, (int) n, (int) n + left);
    }
  }

  /**
   * Replaces this process's program with {@code argv} (argv[0] the program's path), keeping its
   * PID, environment and open files; returns only if that fails.
   */
  public static void execv(List<String> argv) {
    String[] args = argv.toArray(new String[0]); // JNA passes a NULL-terminated char*[]
    C.execv(args[0], args);
  }

  private static final int SIGABRT = 6;

  /**
   * Makes abort() wait {@value #SIGABRT} seconds before the process ends: its SIGABRT handler is
   * libc's own sleep(), which takes the signal's number as its seconds and is safe in a handler.
   * Meanwhile the process's other threads run on (abort() ends it when the handler returns).
   */
  public static void pauseBeforeAbort() {
    C.signal(SIGABRT, Function.getFunction("c", "sleep"));
  }

  public static void close(int fd) {
    C.close(fd);
  }

  /**
   * Ends this process at once with {@code status}: no shutdown hooks, no C exit handlers or static
   * destructors, which would run while TF's threads are mid-step and crash.
   */
  public static void exitNow(int status) {
    System.out.flush();
    System.err.flush();
    C._exit(status);
  }

  private static int check(int result, String call) {
    if (result < 0) {
      throw new IllegalStateException(call + " failed: errno " + Native.getLastError());
    }
    return result;
  }
}
