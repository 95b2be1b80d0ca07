package dev.gpt2j.train.graph;

import dev.gpt2j.data.Batches;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.sampling.Decoder;
import dev.gpt2j.util.Tensors;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.RemoteSessions;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Runs a {@link TrainGraph} in its session: one graph run per optimiser step. With {@code xla}, the
 * session auto-clusters all but the output layer's products and XLA compiles them (on CPU this
 * needs TF_XLA_FLAGS=--tf_xla_cpu_global_jit, which the CLI sets for its own process). On a cluster
 * the session's master is the chief's own server (task 0, started by the {@link Trainer}).
 */
public final class TrainStep implements AutoCloseable {
  /**
   * What one step reports: the mean loss of its micro-batches, the gradient norm before clipping,
   * (for a traced step) how many compiled XLA clusters ran, else -1, and a mixture of experts' mean
   * load-balancing loss (NaN for dense MLPs).
   */
  public record Stats(double loss, double gradNorm, int xlaClusters, double aux) {}

  private final Graph graph;
  private final TrainGraph g;
  private final Session session;

  /** What every run that zeroes state feeds {@link TrainGraph#zero}. */
  private final TFloat32 zero = TFloat32.scalarOf(0f);

  private Decoder sampler;

  public TrainStep(HParams hp, StepConfig c) {
    this.graph = new Graph();
    try {
      g = new TrainGraph(graph, hp, c);
      session =
          c.cluster() == null
              ? new Session(graph, config(c.xla()))
              : RemoteSessions.open(graph, c.cluster().target(0), config(c.xla()));
    } catch (RuntimeException e) {
      zero.close();
      graph.close();
      throw e;
    }
  }

  static ConfigProto config(boolean xla) {
    ConfigProto.Builder b = ConfigProto.newBuilder();
    if (xla) {
      b.setGraphOptions(
          GraphOptions.newBuilder()
              .setOptimizerOptions(
                  OptimizerOptions.newBuilder()
                      .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1)));
    }
    return b.build();
  }

  /** OpenAI's initialisers from {@code seed}, and a zeroed optimiser. */
  public void initialize(long seed) {
    g.initializer.run(session, seed);
    resetOptimizer();
  }

  /** Model weights from an OpenAI-layout checkpoint, and a zeroed optimiser (fine-tuning). */
  public void restoreModel(Path prefix) {
    g.modelIO.restore(session, prefix);
    resetOptimizer();
  }

  /** Model and optimiser state of a run being resumed. */
  public void restore(Path modelPrefix, Path optimizerPrefix) {
    g.modelIO.restore(session, modelPrefix);
    g.optimizerIO.restore(session, optimizerPrefix);
    runAll(g.initAccumulators);
  }

  private void resetOptimizer() {
    runAll(g.initOptimizer);
    runAll(g.initAccumulators);
  }

  private static final int OPS_PER_RUN = 32;

  // A few at a time: all in one run would hold every tensor's temporary beside the state, and one
  // run per op costs the session a new executor per op (seconds each on big graphs).
  // Every list run here zeroes state, and is fed the graph's zero (see TrainGraph.zero).
  private void runAll(List<Op> targets) {
    for (int i = 0; i < targets.size(); i += OPS_PER_RUN) {
      Session.Runner r = session.runner().feed(g.zero, zero);
      targets.subList(i, Math.min(targets.size(), i + OPS_PER_RUN)).forEach(r::addTarget);
      r.run().close();
    }
  }

  public void saveModel(Path prefix) {
    g.modelIO.save(session, prefix);
  }

  public void saveOptimizer(Path prefix) {
    g.optimizerIO.save(session, prefix);
  }

  /**
   * One optimiser step over {@code micro} batches (as many as gradient_accumulation_steps): all but
   * the last accumulate their gradients, the last applies the update. Dropout's masks are drawn
   * from {@code dropoutSeed} and the micro-batch's index: the same seed gives the same step. {@code
   * traced} also counts the XLA clusters that ran.
   */
  public Stats step(
      List<Batches.Batch> micro, double learningRate, long dropoutSeed, boolean traced) {
    double lossSum = 0;
    double auxSum = 0;
    for (int m = 0; ; m++) {
      boolean last = m == micro.size() - 1;
      Batches.Batch b = micro.get(m);
      try (TInt32 xs = Tensors.matrix(b.x());
          TInt32 ys = Tensors.matrix(b.y());
          TInt64 seed = TInt64.vectorOf(dropoutSeed, (long) m << 40);
          TFloat32 dropoutRate = TFloat32.scalarOf(g.dropoutRate);
          TFloat32 rate = TFloat32.scalarOf((float) learningRate)) {
        Session.Runner runner = session.runner().feed(g.x, xs).feed(g.y, ys).fetch(g.loss);
        if (g.dropout != null) {
          runner.feed(g.dropout.seed(), seed).feed(g.dropout.rate(), dropoutRate);
        }
        if (g.aux != null) {
          runner.fetch(g.aux);
        }
        if (last) {
          runner.feed(g.lr, rate).feed(g.zero, zero).fetch(g.gradNorm).addTarget(g.step);
        } else {
          runner.addTarget(g.accumulate);
        }
        try (Result r = run(runner, traced && last)) {
          lossSum += ((TFloat32) r.get(0)).getFloat();
          auxSum += g.aux == null ? Double.NaN : ((TFloat32) r.get(1)).getFloat();
          if (last) {
            int clusters = r.getMetadata().map(TrainStep::xlaClusters).orElse(-1);
            double gradNorm = ((TFloat32) r.get(g.aux == null ? 1 : 2)).getFloat();
            return new Stats(lossSum / micro.size(), gradNorm, clusters, auxSum / micro.size());
          }
        }
      }
    }
  }

  private static Result run(Session.Runner runner, boolean traced) {
    if (!traced) {
      return runner.run();
    }
    return runner
        .setOptions(RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build())
        .runAndFetchMetadata();
  }

  // _XlaRun nodes execute compiled clusters; with XLA off there are none
  private static int xlaClusters(RunMetadata metadata) {
    return (int)
        metadata.getStepStats().getDevStatsList().stream()
            .flatMap(d -> d.getNodeStatsList().stream())
            .filter(n -> n.getTimelineLabel().contains("_XlaRun"))
            .count();
  }

  /** The loss on one batch, without updating anything. */
  public double loss(Batches.Batch b) {
    try (TInt32 xs = Tensors.matrix(b.x());
        TInt32 ys = Tensors.matrix(b.y());
        Result r = session.runner().feed(g.x, xs).feed(g.y, ys).fetch(g.loss).run()) {
      return ((TFloat32) r.get(0)).getFloat();
    }
  }

  /**
   * d loss / d each trained weight on one batch, by tensor name, without updating anything; with
   * the run's dropout drawn from {@code dropoutSeed}, as {@link #step}'s first micro-batch.
   */
  public Map<String, float[]> gradients(Batches.Batch b, long dropoutSeed) {
    Map<String, float[]> out = new LinkedHashMap<>();
    try (TInt32 xs = Tensors.matrix(b.x());
        TInt32 ys = Tensors.matrix(b.y());
        TInt64 seed = TInt64.vectorOf(dropoutSeed, 0);
        TFloat32 dropoutRate = TFloat32.scalarOf(g.dropoutRate)) {
      Session.Runner r = session.runner().feed(g.x, xs).feed(g.y, ys);
      if (g.dropout != null) {
        r.feed(g.dropout.seed(), seed).feed(g.dropout.rate(), dropoutRate);
      }
      g.lossGradients.forEach(r::fetch);
      try (Result result = r.run()) {
        for (int i = 0; i < g.lossGradients.size(); i++) {
          Variable v = g.trainable.get(i);
          float[] values = new float[(int) v.size()];
          ((TFloat32) result.get(i)).copyTo(DataBuffers.of(values, false, false));
          out.put(v.name(), values);
        }
      }
    }
    return out;
  }

  /** Decoding over the weights as they are now (for the samples a run prints). */
  public Decoder sampler() {
    if (sampler == null) {
      sampler = new Decoder(session, g.sampler());
    }
    sampler.weightsChanged();
    return sampler;
  }

  /** Scoring over the weights as they are now (for a run's eval_task). */
  public ContinuationScorer continuationScorer() {
    return g.continuationScorer(session);
  }

  /** The model's weights as they are, by OpenAI's tensor names (what {@link #saveModel} writes). */
  public Map<String, float[]> weights() {
    return g.modelIO.values(session);
  }

  public Session session() {
    return session;
  }

  public Graph graph() {
    return graph;
  }

  @Override
  public void close() {
    zero.close();
    session.close();
    graph.close();
  }
}
