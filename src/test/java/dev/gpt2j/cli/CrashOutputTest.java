package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Library;
import com.sun.jna.Native;
import dev.gpt2j.testing.CliProcess;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What a process prints as it dies reaches its standard error through the CLI's filter: a native
 * abort's message, written into the filter's pipe just before abort(), is passed on before the
 * process ends.
 */
@Tag("process")
class CrashOutputTest {
  private interface C extends Library {
    void __assert_fail(String assertion, String file, int line, String function);
  }

  /** Installs the CLI's filter, writes a line, then fails a C assertion: glibc prints, aborts. */
  public static void main(String[] args) {
    StderrFilter.install();
    System.err.println("a line before the abort");
    Native.load("c", C.class).__assert_fail("the test's assertion", "crash.c", 7, "main");
  }

  @Test
  void aNativeAbortsMessageAndTheLineBeforeItReachStandardError() throws Exception {
    Process p =
        new ProcessBuilder(CliProcess.java(CrashOutputTest.class.getName(), List.of()))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the process ended");
    assertTrue(p.exitValue() != 0, "exit " + p.exitValue());
    assertTrue(err.contains("a line before the abort\n"), "standard error: " + err);
    assertTrue(
        err.contains("crash.c:7: main: Assertion `the test's assertion' failed."),
        "standard error: " + err);
  }
}
