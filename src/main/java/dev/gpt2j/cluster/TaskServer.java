package dev.gpt2j.cluster;

import java.io.IOException;
import java.net.ServerSocket;
import org.tensorflow.Server;

/**
 * TF's gRPC server for one task of a cluster, in this process. TF 2.18's server has no clean
 * shutdown ({@code Server.stop} is unimplemented): it lives as long as the process.
 */
public final class TaskServer {
  private TaskServer() {}

  /** Starts task {@code task}'s server; a port in use is an error naming {@code option}. */
  public static Server start(Cluster cluster, int task, String option) {
    requireFreePort(cluster, task, option);
    Server server = new Server(cluster.serverDef(task));
    server.start();
    return server;
  }

  // TF's own failure to bind is a log line and an abort; this says it first, in one line
  private static void requireFreePort(Cluster cluster, int task, String option) {
    try (ServerSocket probe = new ServerSocket(cluster.port(task))) {
      probe.setReuseAddress(true);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          option
              + ": port "
              + cluster.port(task)
              + " of task "
              + task
              + " is in use on this machine ("
              + e.getMessage()
              + ")");
    }
  }
}
