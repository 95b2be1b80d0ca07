package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.cluster.ClusterException;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.TinyData;
import dev.gpt2j.testing.WorkerProcess;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training on a cluster of real processes on loopback (a chief and a worker): the same training as
 * one process with the whole batch, a task lost mid-run, a task absent at the start, bad options.
 */
@Tag("process")
class ClusterTrainingTest {
  @TempDir Path tmp;
  Path data;

  @BeforeEach
  void tokens() throws Exception {
    data = TinyData.write(tmp.resolve("data"));
  }

  private List<String> train(String outDir, String... more) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "train",
                "--out_dir=" + tmp.resolve(outDir),
                "--data_dir=" + data,
                "--n_layer=1",
                "--n_head=2",
                "--n_embd=16",
                // 256: the attention mask is then a cluster of its own in an evaluation's graph,
                // which XLA refuses on a task unless TfRuntime turns its constant folding off
                "--n_ctx=256",
                "--block_size=256",
                "--warmup_iters=2",
                "--lr_decay_iters=10",
                "--learning_rate=1e-2",
                "--eval_iters=2",
                "--sample_interval=0",
                "--log_interval=1"));
    argv.addAll(List.of(more));
    return argv;
  }

  private static String clusterOption(Cluster cluster) {
    return "--cluster=" + String.join(",", cluster.addresses());
  }

  private static Process start(List<String> argv, Path err) throws Exception {
    return new ProcessBuilder(CliProcess.command(argv)).redirectError(err.toFile()).start();
  }

  // a chief run to its end (within 120 s, exit 0); returns its standard output
  private static String chiefToTheEnd(List<String> argv, Path err) throws Exception {
    Process chief = start(argv, err);
    String out = new String(chief.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(chief.waitFor(120, TimeUnit.SECONDS), "the chief did not finish");
    assertEquals(0, chief.exitValue(), Files.readString(err));
    return out;
  }

  // a LLaMA-style mixture (issue 25): no wpe, grouped keys and values, experts; the load-balancing
  // loss is off, as each task balances its own rows (a cluster's is the tasks' mean)
  @Test
  void twoTasksOfBatchTwoTrainAsOneProcessOfBatchFour() throws Exception {
    String[] run = {
      "--max_iters=5",
      "--eval_interval=5",
      "--norm=rmsnorm",
      "--mlp=swiglu",
      "--position=rope",
      "--n_kv_head=1",
      "--bias=false",
      "--moe_experts=2",
      "--moe_top_k=1",
      "--moe_aux_loss=0"
    };
    CliRunner.Outcome one =
        CliRunner.run(train("one", concat(run, "--batch_size=4")).toArray(String[]::new));
    assertEquals(0, one.code(), one.err());

    Cluster cluster = WorkerProcess.loopbackCluster(2);
    try (WorkerProcess task1 = WorkerProcess.start(cluster, 1, tmp.resolve("worker.err"))) {
      String out =
          chiefToTheEnd(
              train("two", concat(run, "--batch_size=2", clusterOption(cluster))),
              tmp.resolve("chief.err"));
      assertTrue(
          out.contains("cluster: 2 tasks, each computing 2 of the 4 sequences of a micro-batch"),
          out);
    }

    List<String> a = Files.readAllLines(tmp.resolve("one/" + Metrics.CSV));
    List<String> b = Files.readAllLines(tmp.resolve("two/" + Metrics.CSV));
    assertEquals(a.size(), b.size());
    assertEquals(7, a.size()); // header, 5 steps, the evaluation
    for (int i = 1; i < a.size(); i++) {
      String[] ra = a.get(i).split(",", -1);
      String[] rb = b.get(i).split(",", -1);
      assertEquals(ra[0], rb[0]);
      for (int col = 1; col <= 2; col++) { // train_loss, val_loss
        if (!ra[col].isEmpty()) {
          double x = Double.parseDouble(ra[col]);
          double y = Double.parseDouble(rb[col]);
          assertTrue(Math.abs(x - y) <= 1e-5 * Math.abs(x), a.get(i) + " vs " + b.get(i));
        }
      }
    }
    try (Gpt2Model ma = Gpt2Model.load(tmp.resolve("one"));
        Gpt2Model mb = Gpt2Model.load(tmp.resolve("two"))) {
      Map<String, float[]> wa = ma.weights();
      Map<String, float[]> wb = mb.weights();
      assertEquals(wa.keySet(), wb.keySet());
      for (String name : wa.keySet()) {
        double largest = 0;
        double diff = 0;
        for (int i = 0; i < wa.get(name).length; i++) {
          largest = Math.max(largest, Math.abs(wa.get(name)[i]));
          diff = Math.max(diff, Math.abs(wa.get(name)[i] - wb.get(name)[i]));
        }
        assertTrue(diff <= 1e-5 * largest, name + ": max difference " + diff + " of " + largest);
      }
    }
  }

  private static final Pattern LOST =
      Pattern.compile(
          "gpt2 train: task 1 \\(127\\.0\\.0\\.1:\\d+\\) stopped answering: .+; the last checkpoint"
              + " in .+ \\(iter (\\d+)\\) is intact: restart the task and continue with"
              + " init_from=resume\n");

  @Test
  void aKilledWorkerStopsTheChiefWithOneLineAndTheRunResumes() throws Exception {
    Cluster cluster = WorkerProcess.loopbackCluster(2);
    String[] run = {
      "--batch_size=2", "--max_iters=100000", "--eval_interval=5", clusterOption(cluster)
    };
    Path err = tmp.resolve("chief.err");
    String message = chiefAfterItsWorker(cluster, run, Process::destroyForcibly); // SIGKILL
    Matcher m = LOST.matcher(message);
    assertTrue(m.matches(), message);
    int saved = Integer.parseInt(m.group(1));
    assertEquals(saved, new RunDir(tmp.resolve("run")).latest().iter());

    // the same cluster again, from the last checkpoint
    try (WorkerProcess task1 = WorkerProcess.start(cluster, 1, tmp.resolve("worker2.err"))) {
      run[1] = "--max_iters=" + (saved + 5);
      String out = chiefToTheEnd(train("run", concat(run, "--init_from=resume")), err);
      assertTrue(out.contains("resuming " + tmp.resolve("run") + " at iter " + saved), out);
    }
    assertEquals(saved + 5, new RunDir(tmp.resolve("run")).latest().iter());
  }

  @Test
  void aTaskThatCannotBeReachedAtStartIsNamedOnceTheWaitIsOver() throws Exception {
    Cluster cluster = WorkerProcess.loopbackCluster(2); // nobody listens on task 1's port
    long start = System.nanoTime();
    CliRunner.Outcome o =
        CliRunner.run(
            train("run", "--batch_size=2", "--max_iters=5", clusterOption(cluster))
                .toArray(String[]::new));
    double seconds = (System.nanoTime() - start) / 1e9;
    assertEquals(1, o.code(), o.err());
    assertEquals(
        "gpt2 train: task 1 ("
            + cluster.addresses().get(1)
            + ") cannot be reached after 25 s: Connection refused; start it with: worker --cluster "
            + String.join(",", cluster.addresses())
            + " --task 1\n",
        o.err());
    // the wait, then the start of a run on a slow machine: never a hang
    assertTrue(seconds < 2 * ClusterRun.CLUSTER_WAIT.toSeconds(), seconds + " s");
  }

  // a worker that hangs (SIGSTOP) keeps its connections open: only the heartbeat notices
  @Test
  void aHungWorkerStopsTheChiefWithOneLine() throws Exception {
    Cluster cluster = WorkerProcess.loopbackCluster(2);
    String[] run = {
      "--batch_size=2",
      "--max_iters=100000",
      "--eval_interval=5",
      "--cluster_timeout=6",
      clusterOption(cluster)
    };
    String message =
        chiefAfterItsWorker(
            cluster, run, p -> signal(p, "STOP")); // the worker is killed when the test ends
    Matcher m = LOST.matcher(message);
    assertTrue(m.matches(), message);
    assertTrue(message.contains("stopped answering: no reply in 6 s"), message);
    assertEquals(Integer.parseInt(m.group(1)), new RunDir(tmp.resolve("run")).latest().iter());
  }

  // the same in a program that embeds the Trainer: the run ends with an exception naming the task
  // (the stuck step is left behind on a thread of its own), and the program carries on
  @Test
  void aProgramEmbeddingTheTrainerGetsControlBackFromAHungWorker() throws Exception {
    Cluster cluster = WorkerProcess.loopbackCluster(2);
    Map<String, String> keys = new java.util.HashMap<>();
    for (String option :
        train("run", "--batch_size=2", "--max_iters=100000", "--eval_interval=5")) {
      if (option.startsWith("--")) {
        keys.put(
            option.substring(2, option.indexOf('=')), option.substring(option.indexOf('=') + 1));
      }
    }
    keys.putAll(
        Map.of(
            "cluster",
            String.join(",", cluster.addresses()),
            "cluster_timeout",
            "6",
            "xla",
            "false"));
    AtomicLong stopped = new AtomicLong();
    try (WorkerProcess task1 = WorkerProcess.start(cluster, 1, tmp.resolve("worker.err"))) {
      // the worker stops answering once the run has saved its first checkpoint
      PrintStream out =
          new PrintStream(
              new LineWatcher(
                  "eval at iter 5:",
                  () -> {
                    signal(task1.process(), "STOP");
                    stopped.set(System.nanoTime());
                  }),
              true,
              StandardCharsets.UTF_8);
      ClusterException e =
          assertThrows(
              ClusterException.class,
              () -> new Trainer(TrainConfig.load(null, keys), out, () -> false).run());
      // from the worker's stop: the 6 s timeout, a heartbeat's period and a slow machine's margin
      double seconds = (System.nanoTime() - stopped.get()) / 1e9;
      assertTrue(e.getMessage().contains("stopped answering: no reply in 6 s"), e.getMessage());
      assertTrue(e.getMessage().contains("(iter 5) is intact"), e.getMessage());
      assertTrue(seconds < 60, seconds + " s");
    }
  }

  // calls `action` once, when a line starting with `prefix` is written
  private static final class LineWatcher extends java.io.OutputStream {
    private final String prefix;
    private final Runnable action;
    private final StringBuilder line = new StringBuilder();
    private boolean done;

    LineWatcher(String prefix, Runnable action) {
      this.prefix = prefix;
      this.action = action;
    }

    @Override
    public void write(int b) {
      if (b != '\n') {
        line.append((char) b);
        return;
      }
      if (!done && line.toString().startsWith(prefix)) {
        done = true;
        action.run();
      }
      line.setLength(0);
    }
  }

  // runs the chief until its second checkpoint, stops the worker with `stop`, and returns what
  // the chief printed on standard error once it ended (within 60 s, exit 1)
  private String chiefAfterItsWorker(Cluster cluster, String[] run, Consumer<Process> stop)
      throws Exception {
    Path err = tmp.resolve("chief.err");
    try (WorkerProcess task1 = WorkerProcess.start(cluster, 1, tmp.resolve("worker.err"))) {
      Process chief = start(train("run", run), err);
      try {
        BufferedReader out =
            new BufferedReader(
                new InputStreamReader(chief.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null && !line.startsWith("eval at iter 10:")) {
          // training: wait for the second checkpoint
        }
        stop.accept(task1.process());
        long stopped = System.nanoTime();
        assertTrue(
            chief.waitFor(60, TimeUnit.SECONDS),
            "the chief outlived its worker by 60 s: " + Files.readString(err));
        System.out.printf(
            "chief stopped %.1f s after its worker%n", (System.nanoTime() - stopped) / 1e9);
        assertEquals(1, chief.exitValue());
      } finally {
        chief.destroyForcibly();
      }
    }
    return Files.readString(err);
  }

  private static void signal(Process p, String signal) {
    try {
      assertEquals(
          0, new ProcessBuilder("kill", "-" + signal, String.valueOf(p.pid())).start().waitFor());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void badClusterOptionsGetOneLine() throws Exception {
    CliRunner.assertRefused(
        "cluster: 'localhost' is not HOST:PORT (port 1-65535) in 'localhost' (see --help)",
        train("run", "--cluster=localhost").toArray(String[]::new));
    CliRunner.assertRefused(
        "task: train runs the chief, task 0 (got 1); start the other tasks with: worker --cluster"
            + " LIST --task N (see --help)",
        train("run", "--cluster=127.0.0.1:1,127.0.0.1:2", "--task=1").toArray(String[]::new));
    try (ServerSocket taken = new ServerSocket(0)) {
      String chief = "127.0.0.1:" + taken.getLocalPort();
      CliRunner.Outcome o =
          CliRunner.run(train("run", "--cluster=" + chief + ",127.0.0.1:1").toArray(String[]::new));
      assertEquals(2, o.code(), o.err());
      assertTrue(
          o.err()
              .startsWith(
                  "gpt2 train: cluster: port "
                      + taken.getLocalPort()
                      + " of task 0 is in use on this machine"),
          o.err());
      assertEquals(1, o.err().lines().count(), o.err());
    }
  }

  private static String[] concat(String[] a, String... b) {
    List<String> all = new ArrayList<>(List.of(a));
    all.addAll(List.of(b));
    return all.toArray(String[]::new);
  }
}
