package dev.gpt2j.train;

import dev.gpt2j.eval.EvalTask;
import dev.gpt2j.eval.Evaluation;
import dev.gpt2j.eval.Metric;
import dev.gpt2j.eval.Report;
import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.train.graph.TrainStep;
import dev.gpt2j.util.Download;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A run's {@code eval_task}: the task's data read once, before the first step (a bad file costs no
 * training), and run on the live weights at its interval, as llm.c logs HellaSwag while it trains.
 */
final class TaskEval {
  private final Evaluation evaluation;
  private final int interval;
  private final int batch;

  private TaskEval(Evaluation evaluation, int interval, int batch) {
    this.evaluation = evaluation;
    this.interval = interval;
    this.batch = batch;
  }

  /** The run's task, or null when eval_task is empty. */
  static TaskEval of(TrainConfig c, HParams hp, Tokenizer tokenizer) {
    EvalTask task = c.evalTask();
    if (task == null) {
      return null;
    }
    boolean given = !c.evalTaskData().isEmpty();
    Path data =
        given
            ? Path.of(c.evalTaskData())
            : task.source.ensure(EvalTask.DATA_DIR, Download.DEFAULT_TIMEOUT);
    Evaluation e =
        Evaluation.read(
            task,
            data,
            given ? "eval_task_data" : null,
            tokenizer,
            hp.nCtx(),
            c.evalTaskLimit(),
            hp.nCtx() / 2);
    // no more tokens per run than a training micro-batch: its logits fit where the step's do
    int batch = e.batchOf(c.batchSize() * c.blockSize());
    return new TaskEval(
        e, c.evalTaskInterval() == 0 ? c.evalInterval() : c.evalTaskInterval(), batch);
  }

  boolean due(int done, int maxIters) {
    return done % interval == 0 || done == maxIters;
  }

  /** What metrics.csv and the picture call the figure: "hellaswag acc_norm". */
  String label() {
    return evaluation.task() + " " + evaluation.headline();
  }

  /** Runs the task on the weights as they are, says so, and returns its headline figure. */
  double run(TrainStep step, int iter, PrintStream out) {
    Report r = evaluation.run(step.continuationScorer(), batch, (done, soFar) -> {});
    Metric m = r.metric(evaluation.headline());
    out.printf(
        Locale.ROOT,
        "%s at iter %d: %s %.4f (95%% CI %.4f-%.4f) over %d %s (%.1f s)%n",
        r.task(),
        iter,
        m.name(),
        m.value(),
        m.lo(),
        m.hi(),
        r.examples(),
        r.unit(),
        r.seconds());
    return m.value();
  }
}
