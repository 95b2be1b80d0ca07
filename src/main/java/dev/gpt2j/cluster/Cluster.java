package dev.gpt2j.cluster;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.tensorflow.DeviceSpec;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.ServerDef;

/**
 * The tasks of a training cluster, all of TF job {@code worker}: task k listens on {@code
 * addresses.get(k)} ("host:port"). Task 0 is the chief.
 */
public record Cluster(List<String> addresses) {
  public static final String JOB = "worker";

  public Cluster {
    addresses = List.copyOf(addresses);
  }

  /** {@code HOST:PORT,HOST:PORT,...}; a malformed list is an error naming {@code option}. */
  public static Cluster parse(String option, String list) {
    List<String> addresses = new ArrayList<>();
    for (String part : list.split(",", -1)) {
      String address = part.trim();
      int colon = address.lastIndexOf(':');
      if (colon <= 0 || !validPort(address.substring(colon + 1))) {
        throw new IllegalArgumentException(
            option + ": '" + address + "' is not HOST:PORT (port 1-65535) in '" + list + "'");
      }
      addresses.add(address);
    }
    if (new HashSet<>(addresses).size() != addresses.size()) {
      throw new IllegalArgumentException(option + ": an address appears twice in '" + list + "'");
    }
    return new Cluster(addresses);
  }

  private static boolean validPort(String s) {
    try {
      int port = Integer.parseInt(s);
      return port >= 1 && port <= 65535;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  public int size() {
    return addresses.size();
  }

  /** {@code task} checked against the cluster, naming {@code option}. */
  public int requireTask(String option, int task) {
    if (task < 0 || task >= size()) {
      throw new IllegalArgumentException(
          option
              + " must be in 0.."
              + (size() - 1)
              + " for a cluster of "
              + size()
              + ", got "
              + task);
    }
    return task;
  }

  public String host(int task) {
    String a = addresses.get(task);
    return a.substring(0, a.lastIndexOf(':'));
  }

  public int port(int task) {
    String a = addresses.get(task);
    return Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
  }

  /** What TF's server for {@code task} is told: the whole cluster, and which task it is. */
  public ServerDef serverDef(int task) {
    JobDef.Builder job = JobDef.newBuilder().setName(JOB);
    for (int k = 0; k < size(); k++) {
      job.putTasks(k, addresses.get(k));
    }
    return ServerDef.newBuilder()
        .setCluster(ClusterDef.newBuilder().addJob(job))
        .setJobName(JOB)
        .setTaskIndex(task)
        .setProtocol("grpc")
        .build();
  }

  /** The session target of {@code task}'s server. */
  public String target(int task) {
    return "grpc://" + addresses.get(task);
  }

  /** The CPU of {@code task}, for {@code Ops.withDevice}. */
  public DeviceSpec device(int task) {
    return DeviceSpec.newBuilder()
        .job(JOB)
        .task(task)
        .deviceType(DeviceSpec.DeviceType.CPU)
        .deviceIndex(0)
        .build();
  }
}
