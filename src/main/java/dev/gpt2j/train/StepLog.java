package dev.gpt2j.train;

import dev.gpt2j.model.HParams;
import dev.gpt2j.train.graph.TrainStep;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The loop's account of itself: a line every log_interval steps with the loss, speed and ETA,
 * metrics.csv, and loss.png redrawn now and then while the run goes (a live picture, not a costly
 * one) and after every evaluation. Time spent evaluating, saving and sampling is not counted in the
 * speed, nor is the first step, which compiles.
 */
final class StepLog {
  private static final long PLOT_EVERY_NS = 10_000_000_000L;

  private final TrainConfig c;
  private final PrintStream out;
  private final Metrics metrics;
  private final String title;
  private final String taskLabel;
  private long intervalStart = System.nanoTime();
  private long lastPlot = System.nanoTime();
  private int intervalSteps;

  /** {@code taskLabel} names eval_task's figure on the picture, null without one. */
  StepLog(TrainConfig c, HParams hp, Path run, int start, String taskLabel, PrintStream out) {
    this.c = c;
    this.out = out;
    this.metrics = new Metrics(run, start);
    this.title = title(c, hp, run);
    this.taskLabel = taskLabel;
  }

  /** Step {@code done} (1-based) has run; {@code first} is the run's first, which compiled. */
  void stepped(int done, boolean first, TrainStep.Stats stats, double lr) {
    if (first) {
      intervalStart = System.nanoTime();
    } else {
      intervalSteps++;
    }
    if (done % c.logInterval() != 0 && done != c.maxIters()) {
      return;
    }
    if (intervalSteps == 0) { // the first step's loss alone: no speed to tell
      metrics.add(new Metrics.Row(done, stats.loss(), Double.NaN, lr, Double.NaN, stats.aux()));
      return;
    }
    double seconds = (System.nanoTime() - intervalStart) / 1e9;
    double tokensPerS = intervalSteps * (double) tokensPerStep(c) / seconds;
    double eta = (c.maxIters() - done) * seconds / intervalSteps;
    out.printf(
        Locale.ROOT,
        "iter %d/%d: loss %.4f%s, lr %.2e, grad norm %.2f, %,.0f tok/s, %.0f ms/iter, ETA %s%n",
        done,
        c.maxIters(),
        stats.loss(),
        Double.isNaN(stats.aux())
            ? ""
            : String.format(Locale.ROOT, " (load-balancing %.4f)", stats.aux()),
        lr,
        stats.gradNorm(),
        tokensPerS,
        1000 * seconds / intervalSteps,
        duration(eta));
    metrics.add(new Metrics.Row(done, stats.loss(), Double.NaN, lr, tokensPerS, stats.aux()));
    if (System.nanoTime() - lastPlot > PLOT_EVERY_NS) {
      plot();
    }
    resume();
  }

  /** An evaluation's losses, drawn at once. */
  void evaluated(int done, double trainLoss, double valLoss, double lr) {
    metrics.add(new Metrics.Row(done, trainLoss, valLoss, lr, Double.NaN));
    plot();
  }

  /** eval_task's figure, drawn at once. */
  void task(int done, double lr, double value) {
    metrics.add(Metrics.Row.task(done, lr, value));
    plot();
  }

  /** The loop goes back to stepping: what it did since is not counted in the speed. */
  void resume() {
    intervalStart = System.nanoTime();
    intervalSteps = 0;
  }

  private void plot() {
    metrics.plot(title, taskLabel);
    lastPlot = System.nanoTime();
  }

  static int tokensPerStep(TrainConfig c) {
    return c.globalBatchSize() * c.blockSize() * c.gradientAccumulationSteps();
  }

  // which run the picture is of: its directory, the model (its family's keys too) and where it
  // started
  private static String title(TrainConfig c, HParams hp, Path run) {
    String family = hp.describeArchitecture();
    return String.format(
        Locale.ROOT,
        "%s: %d layers, %d heads, %d wide%s, %,d parameters, from %s",
        run,
        hp.nLayer(),
        hp.nHead(),
        hp.nEmbd(),
        family.isEmpty() ? " (GPT-2)" : " (" + family + ")",
        hp.parameterCount(),
        c.initFrom());
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format("%dh%02dm", s / 3600, s % 3600 / 60)
        : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
  }
}
