package dev.gpt2j.cluster;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.Optional;

/**
 * Whether the cluster's tasks accept connections, by opening a TCP connection to each: TF's own
 * session would wait for an absent task for ever ("CreateSession still waiting"), and after a task
 * dies its retries hide the cause.
 */
public final class TaskProbe {
  private static final int CONNECT_TIMEOUT_MS = 2000;
  private static final long RETRY_MS = 500;

  private TaskProbe() {}

  /**
   * Waits until every task but {@code self} accepts a connection; one still refusing after {@code
   * timeout} is a {@link ClusterException} naming it.
   */
  public static void awaitAll(Cluster cluster, int self, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int task = 0; task < cluster.size(); task++) {
      if (task == self) {
        continue;
      }
      Optional<String> failure;
      while ((failure = unreachable(cluster, task)).isPresent()) {
        if (System.nanoTime() > deadline) {
          throw new ClusterException(
              "task "
                  + task
                  + " ("
                  + cluster.addresses().get(task)
                  + ") cannot be reached after "
                  + timeout.toSeconds()
                  + " s: "
                  + failure.get()
                  + "; start it with: worker --cluster "
                  + String.join(",", cluster.addresses())
                  + " --task "
                  + task);
        }
        sleep(RETRY_MS);
      }
    }
  }

  /** The first task but {@code self} that refuses a connection now, if any. */
  public static Optional<Integer> firstUnreachable(Cluster cluster, int self) {
    for (int task = 0; task < cluster.size(); task++) {
      if (task != self && unreachable(cluster, task).isPresent()) {
        return Optional.of(task);
      }
    }
    return Optional.empty();
  }

  // why task's address refuses a TCP connection, or empty when it accepts one
  private static Optional<String> unreachable(Cluster cluster, int task) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(cluster.host(task), cluster.port(task)), CONNECT_TIMEOUT_MS);
      return Optional.empty();
    } catch (IOException e) {
      return Optional.of(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ClusterException("interrupted while waiting for the cluster's tasks");
    }
  }
}
