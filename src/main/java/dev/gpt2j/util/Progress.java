package dev.gpt2j.util;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress bars on standard error: drawn in place on a terminal, a plain line now and then
 * elsewhere.
 */
public final class Progress {
  private static final int LOG_INTERVAL_MILLIS = 10_000;

  private Progress() {}

  /**
   * A bar for {@code task}; on a terminal it redraws itself, in a log it adds a line every 10 s.
   */
  public static ProgressBarBuilder bar(String task, long max) {
    ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(max);
    if (LibC.isTerminal(LibC.STDERR)) {
      return b.setConsumer(new ConsoleProgressBarConsumer(System.err));
    }
    return b.setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(LOG_INTERVAL_MILLIS)
        .setConsumer(new DelegatingProgressBarConsumer(System.err::println));
  }
}
