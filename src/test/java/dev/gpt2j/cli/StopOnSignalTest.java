package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.testing.Signals;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;

/**
 * The one signal scheme, with real signals raised in this process: the first asks to finish, a
 * second to stop at once, and the exit code names the signal that stopped the command. (A second
 * signal that ends the process is run by TrainerTest's and NewUserTest's processes.)
 */
class StopOnSignalTest {
  @Test
  void theFirstSignalAsksToFinishAndTheSecondToStopAtOnce() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (StopOnSignal stop =
        new StopOnSignal(new PrintStream(err, true, StandardCharsets.UTF_8), "finishing", null)) {
      assertFalse(stop.requested());
      Signal.raise(new Signal("TERM"));
      stop.await(); // the JVM runs handlers on a thread of its own
      assertTrue(stop.requested());
      assertFalse(stop.again());
      assertEquals(143, stop.exitCode());
      // Ctrl-C, unless this process ignores it (started in the background): SIGTERM again
      boolean ctrlC = !Signals.interruptIgnored();
      Signal.raise(new Signal(ctrlC ? "INT" : "TERM"));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!stop.again() && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertTrue(stop.again(), "the second signal was not seen");
      assertEquals(ctrlC ? 130 : 143, stop.exitCode(), "the signal that stopped it at once");
    }
    assertEquals(
        "SIGTERM: finishing (a second signal stops at once)\n",
        err.toString(StandardCharsets.UTF_8));
  }
}
