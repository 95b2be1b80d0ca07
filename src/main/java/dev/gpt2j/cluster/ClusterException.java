package dev.gpt2j.cluster;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A task of the cluster that cannot be reached, or stopped answering: the run cannot go on. */
public final class ClusterException extends RuntimeException {
  private static final Pattern TASK =
      Pattern.compile("/job:" + Cluster.JOB + "/replica:0/task:(\\d+)");

  public ClusterException(String message) {
    super(message);
  }

  /**
   * The task whose connection a failed step names ("From /job:worker/replica:0/task:1: Connection
   * reset by peer", with gRPC's detail), or else the first one that now refuses connections; empty
   * when neither points at a task: the failure is not the cluster's.
   */
  public static Optional<ClusterException> taskLost(Cluster cluster, RuntimeException failure) {
    String message = failure.getMessage() == null ? "" : failure.getMessage();
    Matcher m = TASK.matcher(message);
    boolean transport = message.contains("GRPC error"); // gRPC's own detail: the call failed
    Optional<Integer> task =
        transport && m.find()
            ? Optional.of(Integer.parseInt(m.group(1)))
            : TaskProbe.firstUnreachable(cluster, 0);
    return task.filter(t -> t < cluster.size())
        .map(
            t ->
                new ClusterException(
                    "task "
                        + t
                        + " ("
                        + cluster.addresses().get(t)
                        + ") stopped answering: "
                        + cause(message)));
  }

  // the first line of TF's message that is not its "From /job:...:" header
  private static String cause(String message) {
    return message
        .lines()
        .map(String::trim)
        .filter(l -> !l.isEmpty() && !TASK.matcher(l).lookingAt() && !l.startsWith("From "))
        .findFirst()
        .orElse("no detail");
  }
}
