package dev.gpt2j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpt2j.cluster.Cluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code worker --cluster ... --task N} in a process of its own, started once it listens. */
public final class WorkerProcess implements AutoCloseable {
  private final Process process;

  private WorkerProcess(Process process) {
    this.process = process;
  }

  /** Starts task {@code task} of {@code cluster}, its standard error in {@code err}. */
  public static WorkerProcess start(Cluster cluster, int task, Path err) throws IOException {
    Process p =
        new ProcessBuilder(
                CliProcess.command(
                    List.of(
                        "worker",
                        "--cluster",
                        String.join(",", cluster.addresses()),
                        "--task",
                        String.valueOf(task))))
            .redirectError(err.toFile()) // destroy() closes the pipes
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    assertEquals(
        "worker " + task + " listening on " + cluster.addresses().get(task), out.readLine());
    return new WorkerProcess(p);
  }

  public Process process() {
    return process;
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }

  /** {@code tasks} loopback addresses on ports free now. */
  public static Cluster loopbackCluster(int tasks) throws IOException {
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      try (ServerSocket s = new ServerSocket(0)) {
        addresses.add("127.0.0.1:" + s.getLocalPort());
      }
    }
    return new Cluster(addresses);
  }
}
