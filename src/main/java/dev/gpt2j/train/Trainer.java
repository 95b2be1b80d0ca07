package dev.gpt2j.train;

import dev.gpt2j.checkpoint.CheckpointException;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.cluster.ClusterException;
import dev.gpt2j.cluster.Heartbeat;
import dev.gpt2j.cluster.TaskProbe;
import dev.gpt2j.cluster.TaskServer;
import dev.gpt2j.data.Batches;
import dev.gpt2j.data.Prepare;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelSize;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.train.graph.StepConfig;
import dev.gpt2j.train.graph.TrainStep;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Ticker;
import dev.gpt2j.util.WritableDir;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BooleanSupplier;
import org.tensorflow.Server;
import org.tensorflow.exceptions.TFResourceExhaustedException;
import org.tensorflow.exceptions.TensorFlowException;

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
  private Server server; // the chief's, on a cluster: held here for as long as the run
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
    requireModel(config, run);
    this.tokenizer = tokenizer(config, run);
    this.hp = hparams(config, run, tokenizer);
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
    joinCluster(c.cluster());
    try {
      return onCluster(plan, train, val);
    } catch (TFResourceExhaustedException e) {
      throw e; // out of memory, on whichever task: the caller says so
    } catch (TensorFlowException e) {
      throw ClusterException.taskLost(c.cluster(), e)
          .map(lost -> new ClusterException(lost.getMessage() + "; " + lastCheckpoint()))
          .orElseThrow(() -> e);
    }
  }

  /**
   * The run on a cluster, its loop on a thread of its own, while the heartbeat watches the tasks. A
   * task that hangs holds the step for ever, and the step cannot be cancelled (TF Java's
   * Session.close waits for it): the caller gets a {@link ClusterException} naming the task, and
   * the stuck loop's thread and session are left to the end of the process. Every checkpoint is
   * written atomically, so nothing saved is lost.
   */
  private Outcome onCluster(MemoryPlan plan, Batches train, Batches val) {
    TrainStep s = new TrainStep(hp, settled);
    CompletableFuture<Outcome> outcome = new CompletableFuture<>();
    Heartbeat heartbeat;
    try {
      heartbeat =
          Heartbeat.start(
              s.graph(),
              s.session(),
              c.cluster(),
              Duration.ofSeconds(c.clusterTimeout()),
              hung ->
                  outcome.completeExceptionally(
                      new ClusterException(hung.getMessage() + "; " + lastCheckpoint())));
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
    Thread loop =
        new Thread(
            () -> {
              try {
                outcome.complete(train(s, plan, train, val));
              } catch (Throwable e) {
                outcome.completeExceptionally(e);
              }
            },
            "train-loop");
    loop.setDaemon(true); // a loop stuck in a hung task's step must not hold the JVM
    loop.start();
    try {
      return outcome.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    } finally {
      heartbeat.close();
      if (!loop.isAlive() || joined(loop)) {
        s.close();
      }
    }
  }

  // whether the loop ends soon after its outcome (it does unless its step is stuck)
  private static boolean joined(Thread loop) {
    try {
      loop.join(LOOP_EXIT_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !loop.isAlive();
  }

  private static final long LOOP_EXIT_MS = 1000;

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

  /** How long the chief waits for the other tasks to accept connections. */
  static final Duration CLUSTER_WAIT = Duration.ofSeconds(25);

  // starts the chief's server (task 0; it lives as long as this process) and waits for the others
  private void joinCluster(Cluster cluster) {
    server = TaskServer.start(cluster, 0, "cluster");
    out.printf(
        "cluster: chief (task 0) listening on %s; waiting for %d other task(s)%n",
        cluster.addresses().get(0), cluster.size() - 1);
    TaskProbe.awaitAll(cluster, 0, CLUSTER_WAIT);
    out.printf(
        "cluster: %d tasks, each computing %d of the %d sequences of a micro-batch%n",
        cluster.size(), c.batchSize(), c.globalBatchSize());
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
        tokensPerStep());
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

  private Outcome loop(
      TrainStep step, HParams hp, Batches train, Batches val, int start, double best) {
    Metrics metrics = new Metrics(run.path(), start);
    double lastLoss = Double.NaN;
    double lastVal = Double.NaN;
    long intervalStart = System.nanoTime();
    long lastPlot = System.nanoTime();
    int intervalSteps = 0;
    for (int iter = start; iter < c.maxIters(); iter++) {
      double lr = LrSchedule.at(iter, c);
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
      stepped = true;
      lastLoss = stats.loss();
      int done = iter + 1;
      if (iter == start) { // the first step's compile would skew the speed and the ETA
        intervalStart = System.nanoTime();
      } else {
        intervalSteps++;
      }
      if ((done % c.logInterval() == 0 || done == c.maxIters()) && intervalSteps == 0) {
        metrics.add(
            new Metrics.Row(done, lastLoss, Double.NaN, lr, Double.NaN, stats.aux())); // step 1's
      } else if (done % c.logInterval() == 0 || done == c.maxIters()) {
        double seconds = (System.nanoTime() - intervalStart) / 1e9;
        double tokensPerS = intervalSteps * tokensPerStep() / seconds;
        double eta = (c.maxIters() - done) * seconds / intervalSteps;
        out.printf(
            Locale.ROOT,
            "iter %d/%d: loss %.4f%s, lr %.2e, grad norm %.2f, %,.0f tok/s, %.0f ms/iter, ETA %s%n",
            done,
            c.maxIters(),
            lastLoss,
            Double.isNaN(stats.aux())
                ? ""
                : String.format(Locale.ROOT, " (load-balancing %.4f)", stats.aux()),
            lr,
            stats.gradNorm(),
            tokensPerS,
            1000 * seconds / intervalSteps,
            duration(eta));
        metrics.add(new Metrics.Row(done, lastLoss, Double.NaN, lr, tokensPerS, stats.aux()));
        if (System.nanoTime() - lastPlot > PLOT_EVERY_NS) { // a live picture, not a costly one
          metrics.plot(plotTitle(), taskLabel());
          lastPlot = System.nanoTime();
        }
        intervalStart = System.nanoTime();
        intervalSteps = 0;
      }
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
        double saveSeconds = (System.nanoTime() - saveStart) / 1e9;
        metrics.add(new Metrics.Row(done, trainLoss, lastVal, lr, Double.NaN));
        metrics.plot(plotTitle(), taskLabel());
        lastPlot = System.nanoTime();
        out.printf(
            Locale.ROOT,
            "eval at iter %d: train loss %.4f, val loss %.4f%s; saved %s (%.1f s)%n",
            done,
            trainLoss,
            lastVal,
            improved ? " (best so far, also in best/)" : "",
            run.path(),
            saveSeconds);
        intervalStart = System.nanoTime();
        stopping = stopping || stopRequested.getAsBoolean(); // asked during the save: it is done
      } else if (stopping) {
        run.save(done, best, step, tokenizer);
      }
      if (taskEval != null && taskEval.due(done, c.maxIters()) && !stopping) {
        metrics.add(Metrics.Row.task(done, lr, taskEval.run(step, done, out)));
        metrics.plot(plotTitle(), taskLabel());
        intervalStart = System.nanoTime();
      }
      if (c.sampleInterval() > 0 && done % c.sampleInterval() == 0 && !stopping) {
        sample(step, hp, done);
        intervalStart = System.nanoTime();
      }
      if (stopping) {
        out.printf(
            "stopped at iter %d; saved %s (continue with init_from=resume)%n", done, run.path());
        return new Outcome(done, lastLoss, lastVal, End.STOPPED);
      }
    }
    return new Outcome(c.maxIters(), lastLoss, lastVal, End.FINISHED);
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

  private static final long PLOT_EVERY_NS = 10_000_000_000L;

  // which run the picture is of: its directory, the model (its family's keys too) and where it
  // started
  private String plotTitle() {
    String family = hp.describeArchitecture();
    return String.format(
        Locale.ROOT,
        "%s: %d layers, %d heads, %d wide%s, %,d parameters, from %s",
        run.path(),
        hp.nLayer(),
        hp.nHead(),
        hp.nEmbd(),
        family.isEmpty() ? " (GPT-2)" : " (" + family + ")",
        hp.parameterCount(),
        c.initFrom());
  }

  private String taskLabel() {
    return taskEval == null ? null : taskEval.label();
  }

  private int tokensPerStep() {
    return c.globalBatchSize() * c.blockSize() * c.gradientAccumulationSteps();
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

  // the model's vocabulary: the data's for a new model, else the model directory's, which the
  // data's must be
  private static Tokenizer tokenizer(TrainConfig c, RunDir run) {
    Tokenizer data = Tokenizer.of(c.dataDir());
    Tokenizer model =
        switch (c.initFrom().kind()) {
          case SCRATCH -> data;
          case RESUME -> Tokenizer.of(run.path());
          case MODEL_DIR -> Tokenizer.of(c.initFrom().modelDir());
        };
    boolean dataChars = data instanceof CharTokenizer;
    if (dataChars != model instanceof CharTokenizer) {
      throw new IllegalArgumentException(
          "data_dir: "
              + c.dataDir()
              + (dataChars ? " holds character ids (chars.json)" : " holds GPT-2 token ids")
              + ", but the model "
              + (dataChars ? "reads GPT-2's tokens" : "reads characters (chars.json)")
              + "; prepare the data with the model's tokenizer");
    }
    return model;
  }

  // the run to resume, or the model directory to fine-tune, is there (checked before its files)
  private static void requireModel(TrainConfig c, RunDir run) {
    if (c.initFrom().kind() == InitFrom.Kind.RESUME && !run.hasCheckpoint()) {
      if (Files.exists(run.resolve(RunLock.FILE))) { // a run before its first save: say so
        RunLock.acquire(run.path()).close();
      }
      throw new CheckpointException(
          "init_from=resume: "
              + run.path()
              + " holds no run to resume (no checkpoint file); start one with init_from=scratch");
    }
    Path dir = c.initFrom().modelDir();
    if (c.initFrom().kind() == InitFrom.Kind.MODEL_DIR
        && !Files.isDirectory(dir)
        && !(c.dryRun() && ModelSize.named(dir).isPresent())) {
      throw new CheckpointException(
          "init_from: "
              + dir
              + " is not a model directory; expected scratch, resume, or a directory in OpenAI's"
              + " layout (checkpoints/124M after make download MODEL=124M)");
    }
  }

  private static HParams hparams(TrainConfig c, RunDir run, Tokenizer tokenizer) {
    if (c.initFrom().kind() == InitFrom.Kind.RESUME) {
      return ModelDir.readHParams(run.resolve(HParams.FILE_NAME));
    }
    if (run.hasCheckpoint()) {
      throw new CheckpointException(
          run.path()
              + " already holds a run; continue it with "
              + "init_from=resume or choose another out_dir (nothing was changed)");
    }
    if (c.initFrom().kind() == InitFrom.Kind.SCRATCH) {
      return c.scratchModel(tokenizer.size());
    }
    return modelShape(c.initFrom().modelDir(), c.dryRun());
  }

  // a dry run plans a fine-tune of OpenAI's checkpoints/774M before its download: a directory
  // named after one of OpenAI's sizes and holding no hparams.json has that size's shape
  private static HParams modelShape(Path dir, boolean dryRun) {
    if (dryRun && !Files.exists(dir.resolve(HParams.FILE_NAME))) {
      Optional<ModelSize> size = ModelSize.named(dir);
      if (size.isPresent()) {
        return size.get().hparams;
      }
    }
    return ModelDir.hparams(dir);
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format("%dh%02dm", s / 3600, s % 3600 / 60)
        : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
  }
}
