package dev.gpt2j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What this process does with signals, which the processes it starts inherit. */
public final class Signals {
  private Signals() {}

  /**
   * Whether SIGINT is ignored here, as in anything started in the background by a shell without job
   * control ({@code cmd &}): a child started from here cannot be stopped by Ctrl-C then, and a test
   * of Ctrl-C has nothing to test.
   */
  public static boolean interruptIgnored() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("SigIgn:")) {
          long mask = Long.parseUnsignedLong(line.substring(7).trim(), 16);
          return (mask & (1L << (2 - 1))) != 0; // SIGINT is signal 2
        }
      }
    } catch (IOException | RuntimeException e) {
      return false;
    }
    return false;
  }
}
