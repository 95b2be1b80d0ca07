package dev.gpt2j.util;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * For long work with nothing to count (a compile, a restore): says what is happening at once, then
 * how long it has taken every {@value #EVERY_S} s, so that a quiet terminal is never taken for a
 * hung one.
 */
public final class Ticker implements AutoCloseable {
  static final int EVERY_S = 15;

  private final long start = System.nanoTime();
  private final ScheduledExecutorService timer = DaemonTimer.named("ticker");

  private Ticker(PrintStream out, String what, long firstAfterS) {
    if (firstAfterS == 0) {
      out.println(what + "...");
    }
    timer.scheduleAtFixedRate(
        () -> out.printf(Locale.ROOT, "%s... %.0f s%n", what, seconds()),
        firstAfterS == 0 ? EVERY_S : firstAfterS,
        EVERY_S,
        TimeUnit.SECONDS);
  }

  /** Prints "{@code what}..." now, then the time taken every {@value #EVERY_S} s until closed. */
  public static Ticker start(PrintStream out, String what) {
    return new Ticker(out, what, 0);
  }

  /**
   * Says nothing for the first {@code quietS} seconds (short work stays silent), then what is
   * happening and the time taken, every {@value #EVERY_S} s until closed.
   */
  public static Ticker after(long quietS, PrintStream out, String what) {
    return new Ticker(out, what, quietS);
  }

  /** Seconds since the start. */
  public double seconds() {
    return (System.nanoTime() - start) / 1e9;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
