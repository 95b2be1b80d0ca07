package dev.gpt2j.cli;

import dev.gpt2j.util.LibC;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C and SIGTERM, one scheme for every command that runs until it is stopped (train,
 * bench-train, serve): the first signal asks the command to finish (train saves its step,
 * bench-train stops between steps, serve drains its requests), which its own thread does at a point
 * of its choosing, so that native work is never torn down mid-step (TF's threads running while the
 * JVM exits crash it); a second signal stops at once. The exit code says which signal stopped the
 * command (128 + its number), as a shell's does.
 */
final class StopOnSignal implements AutoCloseable {
  private static final List<String> SIGNALS = List.of("INT", "TERM");

  private final PrintStream err;
  private final String finishing;
  private final String lost;
  private final AtomicInteger signals = new AtomicInteger();
  private final CountDownLatch first = new CountDownLatch(1);
  private final List<Signal> handled = new ArrayList<>();
  private final List<SignalHandler> previous = new ArrayList<>();
  private volatile int lastNumber;

  /**
   * Handles both signals until closed. At the first, {@code finishing} is said on {@code err}. At
   * the second, the process ends at once ({@link LibC#exitNow}), saying that {@code lost} was not
   * finished (everything written before stays: writes are atomic); with {@code lost} null, the
   * command's thread is left to stop at once itself ({@link #again}).
   */
  StopOnSignal(PrintStream err, String finishing, String lost) {
    this.err = err;
    this.finishing = finishing;
    this.lost = lost;
    for (String name : SIGNALS) {
      Signal signal = new Signal(name);
      handled.add(signal);
      previous.add(Signal.handle(signal, this::received));
    }
  }

  // on the JVM's signal thread
  private void received(Signal s) {
    lastNumber = s.getNumber();
    if (signals.incrementAndGet() == 1) {
      err.println("SIG" + s.getName() + ": " + finishing + " (a second signal stops at once)");
      first.countDown();
    } else if (lost != null) {
      err.println("SIG" + s.getName() + ": stopped at once; " + lost);
      LibC.exitNow(exitCode());
    }
  }

  /** Whether a stop was asked for. */
  boolean requested() {
    return signals.get() > 0;
  }

  /** Waits for the first signal. */
  void await() throws InterruptedException {
    first.await();
  }

  /** Whether a second signal came: stop at once. */
  boolean again() {
    return signals.get() > 1;
  }

  /**
   * 128 + the number of the signal that stopped the command (130 for Ctrl-C, 143 for SIGTERM): the
   * first when the command finished, the second when it stopped at once; as a shell reports it.
   */
  int exitCode() {
    return 128 + lastNumber;
  }

  @Override
  public void close() {
    for (int i = 0; i < handled.size(); i++) {
      Signal.handle(handled.get(i), previous.get(i));
    }
  }
}
