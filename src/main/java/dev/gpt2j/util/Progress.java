package dev.gpt2j.util;

import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress bars on standard error, with their speed: drawn in place across the terminal's width on
 * a terminal, a whole line now and then elsewhere.
 */
public final class Progress {
  private static final int LOG_INTERVAL_MILLIS = 10_000;

  /** A log line is never cut: wide enough for the bar, the counts, the speed and the figures. */
  static final int LOG_LINE_LENGTH = 240;

  // "0.1 windows/s", not the library's ".1 windows/s"
  private static final DecimalFormat SPEED =
      new DecimalFormat("0.0", DecimalFormatSymbols.getInstance(Locale.ROOT));

  private Progress() {}

  /**
   * A bar for {@code task}; on a terminal it redraws itself, in a log it adds a line every 10 s.
   */
  public static ProgressBarBuilder bar(String task, long max) {
    ProgressBarBuilder b =
        new ProgressBarBuilder().setTaskName(task).setInitialMax(max).showSpeed(SPEED);
    if (Terminal.stderrIsTerminal()) {
      return b.setConsumer(new ConsoleProgressBarConsumer(System.err, Terminal.stderrColumns()));
    }
    return b.setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(LOG_INTERVAL_MILLIS)
        .setConsumer(log());
  }

  // whole lines, each once: the library renders the last state again when the bar closes
  private static ProgressBarConsumer log() {
    return new DelegatingProgressBarConsumer(
        new java.util.function.Consumer<>() {
          private String last;

          @Override
          public void accept(String line) {
            if (!line.equals(last)) {
              System.err.println(line);
              last = line;
            }
          }
        },
        LOG_LINE_LENGTH);
  }
}
