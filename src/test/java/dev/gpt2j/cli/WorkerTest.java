package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.testing.WorkerProcess;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.RemoteSessions;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;

/** The worker command: TF's gRPC server in a real process, on loopback. */
@Tag("process")
class WorkerTest {

  @Test
  void badClusterArgumentsGetOneLine() throws Exception {
    assertBad(
        "--cluster: 'localhost' is not HOST:PORT (port 1-65535) in 'localhost'",
        "--cluster",
        "localhost",
        "--task",
        "0");
    assertBad(
        "--cluster: '127.0.0.1:99999' is not HOST:PORT (port 1-65535) in "
            + "'127.0.0.1:1234,127.0.0.1:99999'",
        "--cluster",
        "127.0.0.1:1234,127.0.0.1:99999",
        "--task",
        "0");
    assertBad(
        "--task must be in 0..1 for a cluster of 2, got 2",
        "--cluster",
        "127.0.0.1:1234,127.0.0.1:1235",
        "--task",
        "2");
    try (ServerSocket taken = new ServerSocket(0)) {
      CliRunner.Outcome o =
          CliRunner.run(
              "worker",
              "--cluster",
              "127.0.0.1:1,127.0.0.1:" + taken.getLocalPort(),
              "--task",
              "1");
      assertEquals(2, o.code(), o.err());
      assertTrue(o.err().contains("is in use on this machine"), o.err());
      assertEquals(1, o.err().lines().count(), o.err());
    }
  }

  private static void assertBad(String message, String... args) {
    CliRunner.assertRefused(message + " (see --help)", CliRunner.argv("worker", args));
  }

  // task 1 in a process of its own; this test is the client, with its master at task 1's server
  @Test
  void aWorkerRunsTheOpsPlacedOnItAndSigtermStopsIt(@TempDir Path tmp) throws Exception {
    Cluster cluster = WorkerProcess.loopbackCluster(2);
    try (WorkerProcess task1 = WorkerProcess.start(cluster, 1, tmp.resolve("err.txt"))) {
      try (Graph g = new Graph()) {
        Ops remote = Ops.create(g).withDevice(cluster.device(1));
        Operand<TFloat32> a = remote.constant(new float[][] {{1, 2}, {3, 4}});
        Operand<TFloat32> product = remote.linalg.matMul(a, a);
        // only task 1 is up: the session must not wait for task 0
        ConfigProto config =
            ConfigProto.newBuilder().addDeviceFilters("/job:worker/task:1").build();
        try (Session s = RemoteSessions.open(g, cluster.target(1), config);
            Result r = s.runner().fetch(product).run()) {
          TFloat32 y = (TFloat32) r.get(0);
          assertEquals(7f, y.getFloat(0, 0));
          assertEquals(10f, y.getFloat(0, 1));
          assertEquals(15f, y.getFloat(1, 0));
          assertEquals(22f, y.getFloat(1, 1));
        }
      }
      Process worker = task1.process();
      worker.destroy(); // SIGTERM
      assertTrue(worker.waitFor(20, TimeUnit.SECONDS), "the worker outlived SIGTERM");
      assertEquals(143, worker.exitValue());
      String err = Files.readString(tmp.resolve("err.txt"));
      assertFalse(err.contains("Exception") || err.contains("\tat "), err);
    }
  }
}
