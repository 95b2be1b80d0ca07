package dev.gpt2j.train.graph;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.PlacedImports;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * In-graph data parallelism over a {@link Cluster}: task k runs a {@link Replica} on rows kB ..
 * (k+1)B-1 of the step's batch, reading the weights from the chief, and the chief averages the
 * replicas' losses and gradients (equal batches: the mean over the whole batch). Weights, optimiser
 * state and the update stay on the chief; per step each other task receives the weights and sends
 * back one gradient of the same size.
 *
 * <p>Each replica is built once in a graph of its own, then imported once per task with every op
 * placed on that task ({@link PlacedImports}) and its weight reads and batch replaced by the
 * chief's.
 */
final class DataParallel {
  private final Cluster cluster;
  private final Graph graph;
  private final Ops tf;
  private final ModelVariables model;
  private final StepConfig c;
  private final GraphDef replica;
  private final int trained;

  private DataParallel(
      Cluster cluster, Graph graph, Ops tf, HParams hp, StepConfig c, ModelVariables model) {
    this.cluster = cluster;
    this.graph = graph;
    this.tf = tf;
    this.model = model;
    this.c = c;
    this.replica = replicaGraph(hp, c);
    this.trained = TrainingWeights.trainable(model, c.trainEmbeddings()).size();
  }

  /** The mean over the cluster's replicas of loss and gradients, for the batch {@code x, y}. */
  static Replica across(
      Cluster cluster,
      Graph graph,
      Ops tf,
      HParams hp,
      StepConfig c,
      ModelVariables model,
      Operand<TInt32> x,
      Operand<TInt32> y,
      Gpt2.Dropout dropout) {
    DataParallel dp = new DataParallel(cluster, graph, tf, hp, c, model);
    List<Replica> replicas = new ArrayList<>();
    for (int task = 0; task < cluster.size(); task++) {
      replicas.add(dp.onTask(task, x, y, dropout));
    }
    Ops mean = tf.withSubScope("replica_mean");
    List<Operand<TFloat32>> averaged = new ArrayList<>();
    for (int i = 0; i < dp.trained; i++) {
      int param = i;
      averaged.add(average(mean, replicas.stream().map(r -> r.gradients().get(param)).toList()));
    }
    Operand<TFloat32> aux =
        replicas.get(0).aux() == null
            ? null
            : average(mean, replicas.stream().map(Replica::aux).toList());
    return new Replica(average(mean, replicas.stream().map(Replica::loss).toList()), aux, averaged);
  }

  // the replica on task's CPU, over rows [task * B, (task + 1) * B) of the batch
  private Replica onTask(int task, Operand<TInt32> x, Operand<TInt32> y, Gpt2.Dropout dropout) {
    // the weights and the rows enter through ops on the task: XLA's auto-clustering left out the
    // ops fed straight from the chief's weight reads, and the replica fell apart into many small
    // clusters (docs/benchmarks.md, "several machines")
    Ops onTask = tf.withDevice(cluster.device(task));
    Map<String, Output<?>> inputs = new HashMap<>();
    for (Variable v : model.all()) {
      inputs.put(v.value().op().name(), onTask.identity(v.value()).asOutput());
    }
    inputs.put(X, rows(onTask, x, task, c.batchSize()).asOutput());
    inputs.put(Y, rows(onTask, y, task, c.batchSize()).asOutput());
    if (dropout != null) { // each task drops its own units: its seed past every site of the others
      inputs.put(
          SEED,
          onTask
              .math
              .add(dropout.seed(), onTask.constant(new long[] {0, (long) task << 20}))
              .asOutput());
      inputs.put(RATE, onTask.identity(dropout.rate()).asOutput());
    }
    String prefix = "task" + task;
    PlacedImports.into(graph, replica, prefix, cluster.device(task).toString(), inputs);
    List<Operand<TFloat32>> gradients = new ArrayList<>();
    for (int i = 0; i < trained; i++) {
      gradients.add(output(graph, prefix + "/" + GRADIENT + i));
    }
    Operand<TFloat32> aux =
        graph.operation(prefix + "/" + AUX) == null ? null : output(graph, prefix + "/" + AUX);
    return new Replica(output(graph, prefix + "/" + LOSS), aux, gradients);
  }

  private static final String X = "x";
  private static final String Y = "y";
  private static final String SEED = "dropout_seed";
  private static final String RATE = "dropout_rate";
  private static final String LOSS = "loss";
  private static final String AUX = "aux";
  private static final String GRADIENT = "gradient_";

  // one replica over batch_size rows, its weights read from variables of its own graph (the
  // import replaces the reads), its outputs under fixed names
  private static GraphDef replicaGraph(HParams hp, StepConfig c) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      ModelVariables model = ModelVariables.create(tf, hp);
      Shape batch = Shape.of(c.batchSize(), c.blockSize());
      Placeholder<TInt32> x = tf.withName(X).placeholder(TInt32.class, Placeholder.shape(batch));
      Placeholder<TInt32> y = tf.withName(Y).placeholder(TInt32.class, Placeholder.shape(batch));
      List<Variable> trained = TrainingWeights.trainable(model, c.trainEmbeddings());
      Gpt2.Dropout dropout = c.dropout() > 0 ? TrainGraph.dropoutInputs(tf) : null;
      Replica r = Replica.build(g, tf.withSubScope("train"), hp, c, model, trained, x, y, dropout);
      tf.withName(LOSS).identity(r.loss());
      if (r.aux() != null) {
        tf.withName(AUX).identity(r.aux());
      }
      for (int i = 0; i < r.gradients().size(); i++) {
        tf.withName(GRADIENT + i).identity(r.gradients().get(i));
      }
      return g.toGraphDef();
    }
  }

  // rows [task * b, (task + 1) * b) of a [tasks * b, T] batch
  private static Operand<TInt32> rows(Ops tf, Operand<TInt32> batch, int task, int b) {
    return tf.slice(batch, tf.constant(new int[] {task * b, 0}), tf.constant(new int[] {b, -1}));
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> output(Graph graph, String op) {
    return (Operand<TFloat32>) (Operand<?>) graph.operation(op).output(0);
  }

  private static Operand<TFloat32> average(Ops tf, List<Operand<TFloat32>> xs) {
    Operand<TFloat32> sum = xs.size() == 1 ? xs.get(0) : tf.math.addN(xs);
    return tf.math.div(sum, tf.constant((float) xs.size()));
  }
}
