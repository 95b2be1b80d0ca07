package dev.gpt2j.util;

/**
 * Whether the user's standard error is a terminal, and how wide. Asked of the descriptor that
 * reaches it, which is not descriptor 2 once the CLI's log filter has put a pipe there.
 */
public final class Terminal {
  private Terminal() {}

  /** Columns assumed where the width cannot be read. */
  static final int DEFAULT_COLUMNS = 80;

  private static volatile int stderr = LibC.STDERR;

  /** From now on the user's standard error is reached through {@code fd}. */
  public static void stderrIsAt(int fd) {
    stderr = fd;
  }

  public static boolean stderrIsTerminal() {
    return LibC.isTerminal(stderr);
  }

  /** The terminal's width now (it may have been resized since the last bar). */
  public static int stderrColumns() {
    int columns = LibC.columns(stderr);
    return columns > 0 ? columns : DEFAULT_COLUMNS;
  }
}
