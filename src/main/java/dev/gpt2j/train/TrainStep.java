package dev.gpt2j.train;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.util.Tensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The training graph: loss, gradients (the output layer's by hand in {@link HeadLoss}, the rest
 * from TF's C++ gradient registry), optional accumulation, global-norm clipping and the AdamW
 * update, fetched together so that one graph run does a whole optimiser step. With {@code xla},
 * the session auto-clusters all but the output layer's products and XLA compiles it (on CPU this
 * needs TF_XLA_FLAGS=--tf_xla_cpu_global_jit, which the CLI sets for its own process).
 */
public final class TrainStep implements AutoCloseable {
  /**
   * What one step reports: the mean loss of its micro-batches, the gradient norm before clipping,
   * and (for a traced step) how many compiled XLA clusters ran, else -1.
   */
  public record Stats(double loss, double gradNorm, int xlaClusters) {}

  private final HParams hp;
  private final int accumulation;
  private final Graph graph;
  private final Session session;
  private final ModelVariables model;
  private final AdamW adam;
  private final CheckpointIO modelIO;
  private final CheckpointIO optimizerIO;
  private final Placeholder<TInt32> x;
  private final Placeholder<TInt32> y;
  private final Placeholder<TFloat32> lr;
  private final Placeholder<TInt64> initSeed;
  private final List<Op> initModel;
  private final List<Op> initOptimizer;
  private final List<Op> initAccumulators = new ArrayList<>();
  private final Operand<TFloat32> loss;
  private final Operand<TFloat32> gradNorm;
  private final List<Operand<TFloat32>> lossGradients;
  private final Op accumulate;
  private final Op step;

  public TrainStep(HParams hp, TrainConfig c) {
    this.hp = hp;
    this.accumulation = c.gradientAccumulationSteps();
    this.graph = new Graph();
    Session created = null;
    try {
      Ops tf = Ops.create(graph);
      model = ModelVariables.create(tf, hp);
      List<Variable> params = model.all();
      adam = new AdamW(tf, params);
      modelIO = new CheckpointIO(tf, params);
      optimizerIO = new CheckpointIO(tf, adam.state());
      initSeed = tf.withName("init_seed").placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
      initModel = model.initializers(initSeed);
      initOptimizer = adam.reset(tf);

      Ops t = tf.withSubScope("train");
      x = t.withName("x").placeholder(TInt32.class, Placeholder.shape(Shape.of(c.batchSize(), c.blockSize())));
      y = t.withName("y").placeholder(TInt32.class, Placeholder.shape(Shape.of(c.batchSize(), c.blockSize())));
      lr = t.withName("lr").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      Operand<TFloat32> h = Gpt2.decoder(tf, hp, x, paddedMlp(t, model.params()), null).h();
      HeadLoss head = HeadLoss.of(t.withSubScope("head"), h, model.params().wte(), y);
      loss = head.loss();
      List<Operand<TFloat32>> grads = gradients(t, h, head, params);
      lossGradients = grads;

      List<Variable> accumulators = new ArrayList<>();
      if (accumulation > 1) {
        List<Op> adds = new ArrayList<>();
        for (Variable p : params) {
          Variable acc = ModelVariables.create(t, p.name() + "/grad_accumulator",
              new ModelVariables.Init.Constant(0), false, p.shape());
          accumulators.add(acc);
          initAccumulators.add(t.assignVariableOp(acc.handle(), t.zerosLike(acc.value())));
          adds.add(t.assignAddVariableOp(acc.handle(), grads.get(params.indexOf(p))));
        }
        accumulate = t.withControlDependencies(adds).noOp();
        // the mean gradient over the micro-batches: this one plus those accumulated before it
        List<Operand<TFloat32>> mean = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
          mean.add(t.math.div(t.math.add(accumulators.get(i).value(), grads.get(i)),
              t.constant((float) accumulation)));
        }
        grads = mean;
      } else {
        accumulate = null;
      }

      gradNorm = globalNorm(t, grads);
      List<Operand<TFloat32>> clipped = c.gradClip() > 0 ? clip(t, grads, gradNorm, c.gradClip()) : grads;
      List<Op> updates = adam.update(tf, params, clipped, lr, c.beta1(), c.beta2(), c.weightDecay());
      List<Op> after = new ArrayList<>(updates);
      Ops afterUpdate = t.withControlDependencies(updates);
      for (Variable acc : accumulators) {
        after.add(afterUpdate.assignVariableOp(acc.handle(), afterUpdate.zerosLike(acc.value())));
      }
      step = t.withControlDependencies(after).noOp();
      created = new Session(graph, config(c.xla()));
      session = created;
    } catch (RuntimeException e) {
      if (created != null) {
        created.close();
      }
      graph.close();
      throw e;
    }
  }

  private static final int MLP_PADDING = 8;

  // The same weights with each MLP's hidden layer widened by MLP_PADDING units of zero weight and
  // bias (gelu(0) = 0: the output and every real gradient are unchanged). With 4 * 768 = 3072
  // floats per activation row, a multiple of 4 KB, the K = 3072 matmuls (c_proj forward, c_fc's
  // input gradient) run at half speed here (cache-set aliasing; 3072 -> 3080 measured 103-144 ->
  // 213-218 GFLOP/s in TF and XLA alike); the padding costs two small copies per layer.
  static Params paddedMlp(Ops tf, Params p) {
    long hidden = p.h().get(0).mlp().cFc().w().shape().get(2);
    if (hidden * Float.BYTES % 4096 != 0) {
      return p;
    }
    Operand<TFloat32> zero = tf.constant(0f);
    Operand<TInt32> widenColumns = tf.constant(new int[][] {{0, 0}, {0, 0}, {0, MLP_PADDING}});
    Operand<TInt32> widenRows = tf.constant(new int[][] {{0, 0}, {0, MLP_PADDING}, {0, 0}});
    List<Params.Block> blocks = new ArrayList<>();
    for (Params.Block b : p.h()) {
      Params.Linear fc = b.mlp().cFc();
      Params.Linear proj = b.mlp().cProj();
      Params.Mlp wide = new Params.Mlp(
          new Params.Linear(tf.pad(fc.w(), widenColumns, zero),
              tf.pad(fc.b(), tf.constant(new int[][] {{0, MLP_PADDING}}), zero)),
          new Params.Linear(tf.pad(proj.w(), widenRows, zero), proj.b()));
      blocks.add(new Params.Block(b.ln1(), b.attn(), b.ln2(), wide));
    }
    return new Params(p.wte(), p.wpe(), blocks, p.lnF());
  }

  static ConfigProto config(boolean xla) {
    ConfigProto.Builder b = ConfigProto.newBuilder();
    if (xla) {
      b.setGraphOptions(GraphOptions.newBuilder().setOptimizerOptions(
          OptimizerOptions.newBuilder().setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1)));
    }
    return b.build();
  }

  // d loss / d each parameter: TF's gradient registry back from h, seeded with the output layer's
  // d loss / d h, plus the output layer's own share of wte's gradient
  private List<Operand<TFloat32>> gradients(Ops tf, Operand<TFloat32> h, HeadLoss head,
                                            List<Variable> params) {
    Output<?>[] wrt = params.stream().map(v -> v.value().asOutput()).toArray(Output[]::new);
    Output<?>[] g = graph.addGradients(null, new Output<?>[] {h.asOutput()}, wrt,
        new Output<?>[] {head.dH().asOutput()});
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (int i = 0; i < g.length; i++) {
      @SuppressWarnings("unchecked")
      Operand<TFloat32> f = (Operand<TFloat32>) g[i];
      out.add(params.get(i).value() == model.params().wte() ? tf.math.add(f, head.dWte()) : f);
    }
    return out;
  }

  // sqrt(sum of squares of every gradient)
  private static Operand<TFloat32> globalNorm(Ops tf, List<Operand<TFloat32>> grads) {
    List<Operand<TFloat32>> squares = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      squares.add(tf.reduceSum(tf.math.square(g), allAxes(tf, g)));
    }
    return tf.math.sqrt(tf.math.addN(squares));
  }

  // torch.nn.utils.clip_grad_norm_: scale by min(1, max_norm / (norm + 1e-6))
  private static List<Operand<TFloat32>> clip(Ops tf, List<Operand<TFloat32>> grads,
                                              Operand<TFloat32> norm, double maxNorm) {
    Operand<TFloat32> scale = tf.math.minimum(tf.constant(1f),
        tf.math.div(tf.constant((float) maxNorm), tf.math.add(norm, tf.constant(1e-6f))));
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      out.add(tf.math.mul(g, scale));
    }
    return out;
  }

  private static Operand<TInt32> allAxes(Ops tf, Operand<TFloat32> g) {
    return tf.range(tf.constant(0), tf.rank(g), tf.constant(1));
  }

  /** OpenAI's initialisers from {@code seed}, and a zeroed optimiser. */
  public void initialize(long seed) {
    try (TInt64 s = TInt64.scalarOf(seed)) {
      for (Op init : initModel) {
        session.runner().feed(initSeed, s).addTarget(init).run().close();
      }
    }
    resetOptimizer();
  }

  /** Model weights from an OpenAI-layout checkpoint, and a zeroed optimiser (fine-tuning). */
  public void restoreModel(Path prefix) {
    modelIO.restore(session, prefix);
    resetOptimizer();
  }

  /** Model and optimiser state of a run being resumed. */
  public void restore(Path modelPrefix, Path optimizerPrefix) {
    modelIO.restore(session, modelPrefix);
    optimizerIO.restore(session, optimizerPrefix);
    runAll(initAccumulators);
  }

  private void resetOptimizer() {
    runAll(initOptimizer);
    runAll(initAccumulators);
  }

  private void runAll(List<Op> targets) {
    if (!targets.isEmpty()) {
      Session.Runner r = session.runner();
      targets.forEach(r::addTarget);
      r.run().close();
    }
  }

  public void saveModel(Path prefix) {
    modelIO.save(session, prefix);
  }

  public void saveOptimizer(Path prefix) {
    optimizerIO.save(session, prefix);
  }

  /**
   * One optimiser step over {@code micro} batches (as many as gradient_accumulation_steps):
   * all but the last accumulate their gradients, the last applies the update.
   */
  public Stats step(List<int[][][]> micro, double learningRate) {
    return step(micro, learningRate, false);
  }

  /** As {@link #step(List, double)}; {@code traced} also counts the XLA clusters that ran. */
  public Stats step(List<int[][][]> micro, double learningRate, boolean traced) {
    double lossSum = 0;
    for (int i = 0; i < micro.size() - 1; i++) {
      try (TInt32 xs = Tensors.matrix(micro.get(i)[0]); TInt32 ys = Tensors.matrix(micro.get(i)[1]);
           Result r = session.runner().feed(x, xs).feed(y, ys).fetch(loss).addTarget(accumulate).run()) {
        lossSum += ((TFloat32) r.get(0)).getFloat();
      }
    }
    int[][][] last = micro.get(micro.size() - 1);
    try (TInt32 xs = Tensors.matrix(last[0]); TInt32 ys = Tensors.matrix(last[1]);
         TFloat32 rate = TFloat32.scalarOf((float) learningRate);
         Result r = run(session.runner().feed(x, xs).feed(y, ys).feed(lr, rate).fetch(loss)
             .fetch(gradNorm).addTarget(step), traced)) {
      lossSum += ((TFloat32) r.get(0)).getFloat();
      int clusters = r.getMetadata().map(TrainStep::xlaClusters).orElse(-1);
      return new Stats(lossSum / micro.size(), ((TFloat32) r.get(1)).getFloat(), clusters);
    }
  }

  private static Result run(Session.Runner runner, boolean traced) {
    if (!traced) {
      return runner.run();
    }
    return runner.setOptions(RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE)
        .build()).runAndFetchMetadata();
  }

  // _XlaRun nodes execute compiled clusters; with XLA off there are none
  private static int xlaClusters(RunMetadata metadata) {
    return (int) metadata.getStepStats().getDevStatsList().stream()
        .flatMap(d -> d.getNodeStatsList().stream())
        .filter(n -> n.getTimelineLabel().contains("_XlaRun"))
        .count();
  }

  /** The loss on one batch, without updating anything. */
  public double loss(int[][] xs, int[][] ys) {
    try (TInt32 a = Tensors.matrix(xs); TInt32 b = Tensors.matrix(ys);
         Result r = session.runner().feed(x, a).feed(y, b).fetch(loss).run()) {
      return ((TFloat32) r.get(0)).getFloat();
    }
  }

  /** d loss / d parameter on one batch, by tensor name, without updating anything. */
  public java.util.Map<String, float[]> gradients(int[][] xs, int[][] ys) {
    java.util.Map<String, float[]> out = new java.util.LinkedHashMap<>();
    try (TInt32 a = Tensors.matrix(xs); TInt32 b = Tensors.matrix(ys)) {
      Session.Runner r = session.runner().feed(x, a).feed(y, b);
      lossGradients.forEach(r::fetch);
      try (Result result = r.run()) {
        for (int i = 0; i < lossGradients.size(); i++) {
          Variable v = model.all().get(i);
          float[] g = new float[(int) v.size()];
          ((TFloat32) result.get(i)).copyTo(org.tensorflow.ndarray.buffer.DataBuffers.of(g, false, false));
          out.put(v.name(), g);
        }
      }
    }
    return out;
  }

  public ModelVariables model() {
    return model;
  }

  public Session session() {
    return session;
  }

  public HParams hparams() {
    return hp;
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
