package dev.gpt2j.util;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import me.tongfei.progressbar.ProgressBar;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class ProgressTest {
  // what a log file or `make test` gets: plain lines, no colour codes, no carriage returns
  @Test
  void offATerminalABarIsAFewPlainLines() {
    Assumptions.assumeFalse(LibC.isTerminal(LibC.STDERR), "skipped: standard error is a terminal");
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try (ProgressBar bar = Progress.bar("work", 1000).build()) {
      for (int i = 0; i < 1000; i++) {
        bar.step();
      }
    } finally {
      System.setErr(saved);
    }
    String log = err.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("\u001b["), log);
    assertFalse(log.contains("\r"), log);
    assertTrue(log.lines().count() <= 3, log);
    assertTrue(log.contains("work 100%"), log);
  }
}
