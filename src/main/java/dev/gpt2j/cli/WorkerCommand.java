package dev.gpt2j.cli;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.cluster.TaskServer;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.tensorflow.Server;

/**
 * {@code worker}: TF's gRPC server for one task of a training cluster, serving until the process is
 * stopped (TF 2.18's server has no clean shutdown: SIGTERM or Ctrl-C ends the process, and the
 * server with it).
 */
final class WorkerCommand implements Command {
  @Override
  public String name() {
    return "worker";
  }

  @Override
  public String summary() {
    return "serve one task of a training cluster (TF's gRPC server) until stopped";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(
            Option.builder()
                .longOpt("cluster")
                .hasArg()
                .argName("LIST")
                .desc("every task's HOST:PORT, comma-separated, task 0 (the chief) first")
                .build())
        .addOption(
            Option.builder()
                .longOpt("task")
                .hasArg()
                .argName("N")
                .desc("this task's index in --cluster")
                .build());
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws Exception {
    Cluster cluster;
    int task;
    try {
      cluster = Cluster.parse("--cluster", args.required("cluster"));
      task = cluster.requireTask("--task", args.integer("task", -1));
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    if (task == 0) {
      throw new UsageException(
          "--task 0 is the chief, which train runs (train --cluster ...); a worker is task 1.."
              + (cluster.size() - 1));
    }
    requireThisMachine(cluster.addresses().get(task));
    Server server = TaskServer.start(cluster, task, "--cluster");
    out.printf("worker %d listening on %s%n", task, cluster.addresses().get(task));
    server.join(); // until the process is stopped
    return 0;
  }

  // a worker serves on this machine: a task whose host is another would claim to listen there
  private static void requireThisMachine(String address) {
    String host = address.substring(0, address.lastIndexOf(':'));
    try {
      InetAddress ip = InetAddress.getByName(host);
      if (!ip.isAnyLocalAddress()
          && !ip.isLoopbackAddress()
          && NetworkInterface.getByInetAddress(ip) == null) {
        throw new UsageException(
            "--task's address "
                + address
                + " is not this machine ("
                + host
                + " is "
                + ip.getHostAddress()
                + "): start this worker on "
                + host);
      }
    } catch (UnknownHostException e) {
      throw new UsageException("--task's host " + host + " cannot be resolved");
    } catch (SocketException e) {
      throw new UsageException("--task's host " + host + ": " + e.getMessage());
    }
  }
}
