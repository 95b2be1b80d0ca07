package dev.gpt2j.train;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.cluster.ClusterException;
import dev.gpt2j.cluster.Heartbeat;
import dev.gpt2j.cluster.TaskProbe;
import dev.gpt2j.cluster.TaskServer;
import dev.gpt2j.model.HParams;
import dev.gpt2j.train.graph.StepConfig;
import dev.gpt2j.train.graph.TrainStep;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.tensorflow.Server;
import org.tensorflow.exceptions.TFResourceExhaustedException;
import org.tensorflow.exceptions.TensorFlowException;

/**
 * The chief's side of a run on a cluster: its server, the wait for the other tasks, and a heartbeat
 * that turns a lost or hung task into a {@link ClusterException} naming it and where the run can
 * continue from.
 */
final class ClusterRun {
  /** How long the chief waits for the other tasks to accept connections. */
  static final Duration CLUSTER_WAIT = Duration.ofSeconds(25);

  private static final long LOOP_EXIT_MS = 1000;

  private final TrainConfig c;
  private final Cluster cluster;
  private final Supplier<String> lastCheckpoint;
  private Server server; // lives as long as this process: TF 2.18's server has no clean stop

  /** {@code lastCheckpoint} says where a run cut short continues from. */
  ClusterRun(TrainConfig c, Supplier<String> lastCheckpoint) {
    this.c = c;
    this.cluster = c.cluster();
    this.lastCheckpoint = lastCheckpoint;
  }

  /**
   * Starts the chief's server (task 0), waits for the others, and runs {@code loop} on a step built
   * over the cluster. A task lost mid-step, or one that hangs, ends the run with a {@link
   * ClusterException}.
   */
  Trainer.Outcome run(
      HParams hp, StepConfig settled, PrintStream out, Function<TrainStep, Trainer.Outcome> loop) {
    server = TaskServer.start(cluster, 0, "cluster");
    out.printf(
        "cluster: chief (task 0) listening on %s; waiting for %d other task(s)%n",
        cluster.addresses().get(0), cluster.size() - 1);
    TaskProbe.awaitAll(cluster, 0, CLUSTER_WAIT);
    out.printf(
        "cluster: %d tasks, each computing %d of the %d sequences of a micro-batch%n",
        cluster.size(), c.batchSize(), c.globalBatchSize());
    try {
      return watched(new TrainStep(hp, settled), loop);
    } catch (TFResourceExhaustedException e) {
      throw e; // out of memory, on whichever task: the caller says so
    } catch (TensorFlowException e) {
      throw ClusterException.taskLost(cluster, e)
          .map(lost -> new ClusterException(lost.getMessage() + "; " + lastCheckpoint.get()))
          .orElseThrow(() -> e);
    }
  }

  /**
   * The loop on a thread of its own, while the heartbeat watches the tasks. A task that hangs holds
   * the step for ever, and the step cannot be cancelled (TF Java's Session.close waits for it): the
   * caller gets a {@link ClusterException} naming the task, and the stuck loop's thread and session
   * are left to the end of the process. Every checkpoint is written atomically, so nothing saved is
   * lost.
   */
  private Trainer.Outcome watched(TrainStep s, Function<TrainStep, Trainer.Outcome> loop) {
    CompletableFuture<Trainer.Outcome> outcome = new CompletableFuture<>();
    Heartbeat heartbeat;
    try {
      heartbeat =
          Heartbeat.start(
              s.graph(),
              s.session(),
              cluster,
              Duration.ofSeconds(c.clusterTimeout()),
              hung ->
                  outcome.completeExceptionally(
                      new ClusterException(hung.getMessage() + "; " + lastCheckpoint.get())));
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
    Thread thread =
        new Thread(
            () -> {
              try {
                outcome.complete(loop.apply(s));
              } catch (Throwable e) {
                outcome.completeExceptionally(e);
              }
            },
            "train-loop");
    thread.setDaemon(true); // a loop stuck in a hung task's step must not hold the JVM
    thread.start();
    try {
      return outcome.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    } finally {
      heartbeat.close();
      if (!thread.isAlive() || joined(thread)) {
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
}
