package dev.gpt2j.train;

import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.data.Batches;
import dev.gpt2j.data.Prepare;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.train.graph.StepConfig;
import dev.gpt2j.train.graph.TrainStep;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Ticker;
import dev.gpt2j.util.WritableDir;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The training loop: batches, one optimiser step per iteration, progress lines, evaluation,
 * checkpoints in OpenAI's layout, samples, and stopping cleanly when asked.
 */
public final class Trainer {
  /** Eval batches come from their own stream, the same ones at every evaluation. */
  private static final long EVAL_STREAM = 1L << 40;

  /** How a run ended. */
  public record Outcome(int iter, double trainLoss, double valLoss, End end) {}

  /** Why a run ended. */
  public enum End {
    FINISHED, // at max_iters
    STOPPED, // asked to stop (Ctrl-C, SIGTERM), its step saved
    NOTHING_TO_DO // a resumed run already at max_iters: nothing ran, nothing was written
  }

  /** A loss that is NaN or infinite: the run stops without saving over good checkpoints. */
  public static final class DivergedException extends RuntimeException {
    DivergedException(String message) {
      super(message);
    }
  }

  private final TrainConfig c;
  private final StepConfig settled; // what c asks of each step, every auto resolved
  private final PrintStream out;
  private final BooleanSupplier stopRequested;
  private final RunDir run;
  private final HParams hp;
  private final Tokenizer tokenizer;
  private final Optional<SystemMemory.Limit> available;
  private ClusterRun cluster; // the chief's side, on a cluster: held for as long as the run
  private TaskEval taskEval; // eval_task's data, read when the run starts; null without one
  private volatile boolean stepped; // the run has taken its first step

  /**
   * Reads the model's shape (from init_from, or the run being resumed) and settles recompute=auto;
   * nothing is loaded yet.
   */
  public Trainer(TrainConfig config, PrintStream out, BooleanSupplier stopRequested) {
    this.out = out;
    this.stopRequested = stopRequested;
    this.run = new RunDir(config.outDir());
    RunModel model = RunModel.of(config, run);
    this.tokenizer = model.tokenizer();
    this.hp = model.hparams();
    this.available = SystemMemory.available();
    this.c = config;
    this.settled = StepPlan.settle(config, hp, available);
  }

  public Outcome run() {
    if (c.initFrom().kind() == InitFrom.Kind.RESUME) {
      int at = run.latest().iter();
      if (at >= c.maxIters()) {
        out.printf("already at iter %d (max_iters %d); nothing to do%n", at, c.maxIters());
        return new Outcome(at, Double.NaN, Double.NaN, End.NOTHING_TO_DO);
      }
    }
    WritableDir.require(run.path(), "out_dir");
    if (c.blockSize() > hp.nCtx()) {
      throw new IllegalArgumentException(
          "block_size (" + c.blockSize() + ") exceeds the model's n_ctx (" + hp.nCtx() + ")");
    }
    MemoryPlan plan = memoryPlan();
    plan.requireFits(available);
    Batches train = new Batches(c.dataDir().resolve(Prepare.TRAIN));
    Batches val = new Batches(c.dataDir().resolve(Prepare.VAL));
    for (Batches data : List.of(train, val)) {
      data.requireWindows(c.blockSize());
      data.requireIdsBelow(hp.nVocab());
    }
    taskEval = TaskEval.of(c, hp, tokenizer);
    boolean created = !Files.exists(run.path());
    try (RunLock lock = RunLock.acquire(run.path())) {
      return runLocked(plan, train, val);
    } catch (RuntimeException e) {
      if (created && !stepped) { // refused before its first step: the run leaves nothing
        AtomicFiles.deleteRecursively(run.path());
      }
      throw e;
    }
  }

  private Outcome runLocked(MemoryPlan plan, Batches train, Batches val) {
    if (c.cluster() == null) {
      try (TrainStep s = new TrainStep(hp, settled)) {
        return train(s, plan, train, val);
      }
    }
    cluster = new ClusterRun(c, this::lastCheckpoint);
    return cluster.run(hp, settled, out, s -> train(s, plan, train, val));
  }

  // where a stopped run continues from
  private String lastCheckpoint() {
    if (!run.hasCheckpoint()) {
      return "no checkpoint was saved yet";
    }
    return "the last checkpoint in "
        + run.path()
        + " (iter "
        + run.latest().iter()
        + ") is intact: restart the task and continue with init_from=resume";
  }

  // the run from its first step to its end, on a step ready to run
  private Outcome train(TrainStep step, MemoryPlan plan, Batches train, Batches val) {
    int start = 0;
    double best = Double.POSITIVE_INFINITY;
    if (c.initFrom().kind() == InitFrom.Kind.RESUME) {
      RunDir.Saved saved = run.latest();
      step.restore(saved.modelPrefix(), saved.optimizerPrefix());
      start = saved.iter();
      best = saved.bestValLoss();
      out.printf("resuming %s at iter %d%n", run.path(), start);
    } else if (c.initFrom().kind() == InitFrom.Kind.SCRATCH) {
      step.initialize(c.seed());
    } else {
      step.restoreModel(ModelDir.latestCheckpoint(c.initFrom().modelDir()));
    }
    run.prepare(hp, c, tokenizer);
    out.println(memoryLine(plan));
    out.printf(
        Locale.ROOT,
        "model: %,d parameters (%s), products in %s; data: %,d train / %,d val tokens;"
            + " %d tokens per step%n",
        hp.parameterCount(),
        hp.describe(),
        c.dtype().label,
        train.size(),
        val.size(),
        StepLog.tokensPerStep(c));
    Outcome outcome = loop(step, hp, train, val, start, best);
    SystemMemory.peakResident()
        .ifPresent(
            peak ->
                out.printf(
                    Locale.ROOT,
                    "peak resident memory: %.2f GiB (planned %.2f GiB)%n",
                    MemoryPlan.gib(peak),
                    MemoryPlan.gib(plan.total())));
    return outcome;
  }

  // nanoGPT's loop: step, log, evaluate and save, then this run's extras (eval_task, samples)
  private Outcome loop(
      TrainStep step, HParams hp, Batches train, Batches val, int start, double best) {
    StepLog log =
        new StepLog(c, hp, run.path(), start, taskEval == null ? null : taskEval.label(), out);
    double lastLoss = Double.NaN;
    double lastVal = Double.NaN;
    for (int iter = start; iter < c.maxIters(); iter++) {
      double lr = LrSchedule.at(iter, c);
      TrainStep.Stats stats = step(step, train, iter, start, lr);
      stepped = true;
      lastLoss = stats.loss();
      int done = iter + 1;
      log.stepped(done, iter == start, stats, lr);
      boolean stopping = stopRequested.getAsBoolean();
      if (done % c.evalInterval() == 0 || done == c.maxIters()) {
        double trainLoss = estimate(step, train);
        lastVal = estimate(step, val);
        boolean improved = lastVal < best;
        best = Math.min(best, lastVal);
        long saveStart = System.nanoTime();
        run.save(done, best, step, tokenizer);
        if (improved) {
          run.saveBest(hp, step, tokenizer);
        }
        log.evaluated(done, trainLoss, lastVal, lr);
        out.printf(
            Locale.ROOT,
            "eval at iter %d: train loss %.4f, val loss %.4f%s; saved %s (%.1f s)%n",
            done,
            trainLoss,
            lastVal,
            improved ? " (best so far, also in best/)" : "",
            run.path(),
            (System.nanoTime() - saveStart) / 1e9);
        log.resume();
        stopping = stopping || stopRequested.getAsBoolean(); // asked during the save: it is done
      } else if (stopping) {
        run.save(done, best, step, tokenizer);
      }
      if (taskEval != null && taskEval.due(done, c.maxIters()) && !stopping) {
        log.task(done, lr, taskEval.run(step, done, out));
        log.resume();
      }
      if (c.sampleInterval() > 0 && done % c.sampleInterval() == 0 && !stopping) {
        sample(step, hp, done);
        log.resume();
      }
      if (stopping) {
        out.printf(
            "stopped at iter %d; saved %s (continue with init_from=resume)%n", done, run.path());
        return new Outcome(done, lastLoss, lastVal, End.STOPPED);
      }
    }
    return new Outcome(c.maxIters(), lastLoss, lastVal, End.FINISHED);
  }

  // one optimiser step over the iteration's micro-batches; a loss that is not finite ends the run
  private TrainStep.Stats step(TrainStep step, Batches train, int iter, int start, double lr) {
    List<Batches.Batch> micro = new ArrayList<>();
    for (int m = 0; m < c.gradientAccumulationSteps(); m++) {
      micro.add(train.get(c.seed(), m, iter, c.globalBatchSize(), c.blockSize()));
    }
    TrainStep.Stats stats =
        iter == start
            ? firstStep(step, micro, lr, iter)
            : step.step(micro, lr, dropoutSeed(iter), false);
    if (!Double.isFinite(stats.loss())) {
      throw new DivergedException(
          "loss is "
              + stats.loss()
              + " at iter "
              + iter
              + "; stopped without "
              + "saving, the last checkpoint in "
              + run.path()
              + " is untouched (try a lower learning_rate)");
    }
    return stats;
  }

  // the first step, said out loud: with XLA it compiles before it runs, which takes seconds to
  // minutes (a repeated run loads the compiled step from the cache)
  private TrainStep.Stats firstStep(
      TrainStep step, List<Batches.Batch> micro, double lr, int iter) {
    TrainStep.Stats stats;
    double seconds;
    try (Ticker ticker =
        Ticker.start(
            out,
            settled.xla()
                ? "step " + (iter + 1) + ": compiling the training step with XLA, then running it"
                : "step " + (iter + 1) + ": running the first step")) {
      stats = step.step(micro, lr, dropoutSeed(iter), true);
      seconds = ticker.seconds();
    }
    out.println(
        String.format(Locale.ROOT, "step %d: loss %.4f, %.1f s; ", iter + 1, stats.loss(), seconds)
            + (settled.xla()
                ? "xla: the training step ran as "
                    + stats.xlaClusters()
                    + " compiled XLA cluster(s)"
                : "xla: off (xla=false); the training step runs op by op"));
    return stats;
  }

  // nanoGPT's estimate_loss: the mean loss over eval_iters batches
  private double estimate(TrainStep step, Batches data) {
    double sum = 0;
    for (int i = 0; i < c.evalIters(); i++) {
      sum += step.loss(data.get(c.seed(), EVAL_STREAM, i, c.globalBatchSize(), c.blockSize()));
    }
    return sum / c.evalIters();
  }

  // from the weights as they are: the training graph holds a decoding graph over its variables
  private void sample(TrainStep step, HParams hp, int iter) {
    int[] prompt = tokenizer.encode(c.samplePrompt());
    if (prompt.length == 0) {
      prompt = new int[] {tokenizer.endOfText().orElse(0)};
    }
    int length = Math.max(1, Math.min(c.sampleLength(), hp.nCtx() - prompt.length));
    SampleOptions o = SampleOptions.builder().length(length).seed(c.seed() + iter).build();
    int[] tokens = step.sampler().generate(prompt, 1, o, length, 0, (row, token) -> {})[0];
    out.printf(
        "---- sample at iter %d ----%n%s%s%n----%n",
        iter, c.samplePrompt(), tokenizer.decode(tokens));
  }

  // dropout's masks at step iter: a function of the seed and the step, so a resumed run repeats
  // them
  private long dropoutSeed(int iter) {
    return c.seed() * 0x9E3779B97F4A7C15L + iter;
  }

  /** What this run's steps will hold in memory, from the config and the model's shape alone. */
  public MemoryPlan memoryPlan() {
    MemoryPlan step = StepPlan.memory(settled, hp);
    if (c.evalTask() == null) {
      return step;
    }
    // the task's scorer runs a micro-batch's worth of tokens, and its logits stay in the
    // session's allocator beside the step's (docs/benchmarks.md, "The eval_task's compiles, and
    // the plan with an eval_task")
    return step.plus(
        "eval_task's logits (one run of the scorer)",
        (long) c.batchSize() * c.blockSize() * hp.nVocab() * Float.BYTES);
  }

  private String memoryLine(MemoryPlan plan) {
    return String.format(
        Locale.ROOT,
        "memory: planned %.2f GiB%s; recompute=%s%s, xla=%s",
        MemoryPlan.gib(plan.total()),
        available
            .map(
                a ->
                    String.format(Locale.ROOT, " of %.2f GiB available", MemoryPlan.gib(a.bytes())))
            .orElse(""),
        settled.recompute(),
        c.recompute() == Toggle.AUTO ? " (auto)" : "",
        settled.xla());
  }
}
