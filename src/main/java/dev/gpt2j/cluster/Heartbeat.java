package dev.gpt2j.cluster;

import dev.gpt2j.util.DaemonTimer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TInt32;

/**
 * Asks every task but the chief for a tiny tensor, through the training session, while a run goes
 * on: every third of the deadline, and each probe may take the whole deadline. A task that is
 * killed closes its connections and the step fails at once; one that hangs without closing them (a
 * frozen host, a cut cable) would leave the step waiting for ever, as TF's steps have no deadline:
 * a probe unanswered for the deadline reports that task.
 */
public final class Heartbeat implements AutoCloseable {
  private final ScheduledExecutorService timer = DaemonTimer.named("cluster-heartbeat");

  private Heartbeat() {}

  /**
   * Starts probing the tasks of {@code cluster} through {@code session} (on {@code graph}, which
   * gains one constant per task); {@code onHung} gets the one-line report of a task that did not
   * answer in time.
   */
  public static Heartbeat start(
      Graph graph,
      Session session,
      Cluster cluster,
      Duration deadline,
      Consumer<ClusterException> onHung) {
    List<Operand<TInt32>> probes = new ArrayList<>();
    Ops tf = Ops.create(graph).withSubScope("heartbeat");
    for (int task = 1; task < cluster.size(); task++) {
      probes.add(tf.withDevice(cluster.device(task)).withName("task" + task).constant(task));
    }
    // a first round now, while every task answers: the first run of the probes registers their
    // graph with each task, and a registration that hangs does not heed the deadline
    int deadlineMs = Math.toIntExact(deadline.toMillis());
    probe(session, cluster, probes, deadlineMs, onHung);
    Heartbeat beat = new Heartbeat();
    long interval = deadlineMs / 3;
    beat.timer.scheduleWithFixedDelay(
        () -> probe(session, cluster, probes, deadlineMs, onHung),
        interval,
        interval,
        TimeUnit.MILLISECONDS);
    return beat;
  }

  // one round: a task whose probe took the whole deadline is reported, and the probing stops;
  // a probe that fails sooner is left to the step, which fails the same way and says why
  private static void probe(
      Session session,
      Cluster cluster,
      List<Operand<TInt32>> probes,
      int deadlineMs,
      Consumer<ClusterException> onHung) {
    RunOptions deadline = RunOptions.newBuilder().setTimeoutInMs(deadlineMs).build();
    for (int task = 1; task < cluster.size(); task++) {
      long start = System.nanoTime();
      try (Result answer =
          session.runner().fetch(probes.get(task - 1)).setOptions(deadline).run()) {
        // answered
      } catch (RuntimeException e) {
        if ((System.nanoTime() - start) / 1_000_000 >= deadlineMs * 9L / 10) {
          onHung.accept(
              new ClusterException(
                  "task "
                      + task
                      + " ("
                      + cluster.addresses().get(task)
                      + ") stopped answering: no reply in "
                      + deadlineMs / 1000
                      + " s"));
          throw e; // ends the schedule
        }
      }
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
