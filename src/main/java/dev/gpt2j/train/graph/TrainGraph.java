package dev.gpt2j.train.graph;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.checkpoint.Initializer;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.sampling.DecodingGraph;
import dev.gpt2j.train.optim.Optimizer;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.UnclusteredOps;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The training graph, built once: loss and gradients ({@link Replica}, or one per task of a
 * cluster, averaged: {@link DataParallel}), optional accumulation, global-norm clipping and the
 * optimiser's update, which {@link #step} runs as one; plus the ops to initialise, save and
 * restore, and (when the run prints samples) a {@link DecodingGraph} to sample from the live
 * weights. No session: {@link TrainStep} runs it.
 */
final class TrainGraph {
  final ModelVariables model;
  final Optimizer optimizer;
  final CheckpointIO modelIO;
  final CheckpointIO optimizerIO;
  final Placeholder<TInt32> x;
  final Placeholder<TInt32> y;
  final Placeholder<TFloat32> lr;

  /**
   * Dropout in the loss and gradients, or null when the run has none: its seed pair and rate are
   * placeholders that default to zeros, so only {@link TrainStep#step} drops (not evaluation).
   */
  final Gpt2.Dropout dropout;

  /** The run's dropout probability, which a step feeds. */
  final float dropoutRate;

  final Initializer initializer;

  /**
   * Fed 0 by every run that zeroes state (optimiser reset, accumulators): a fed zero keeps Grappler
   * from folding the fills into constants the session would hold beside the state (see {@link
   * ModelVariables#fill}).
   */
  final Placeholder<TFloat32> zero;

  final List<Op> initOptimizer;
  final List<Op> initAccumulators = new ArrayList<>();
  final Operand<TFloat32> loss;

  /** A mixture of experts' load-balancing loss; null for dense MLPs. */
  final Operand<TFloat32> aux;

  final Operand<TFloat32> gradNorm;

  /** The weights training updates (all, or all but the embeddings). */
  final List<Variable> trainable;

  /** d loss / d each of {@link #trainable}, on one batch. */
  final List<Operand<TFloat32>> lossGradients;

  /** Adds this micro-batch's gradients to the accumulators (null without accumulation). */
  final Op accumulate;

  /** Applies the update (with the accumulated gradients, which it then zeroes). */
  final Op step;

  private final Ops tf;
  private final HParams hp;
  private DecodingGraph sampler;
  private ContinuationScorer continuationScorer;

  TrainGraph(Graph graph, HParams hp, StepConfig c) {
    this.tf = Ops.create(graph);
    this.hp = hp;
    model = ModelVariables.create(tf, hp);
    List<Variable> params = TrainingWeights.trainable(model, c.trainEmbeddings());
    trainable = params;
    optimizer = c.optimizer().create(tf, params);
    modelIO = new CheckpointIO(tf, model.all());
    optimizerIO = new CheckpointIO(tf, optimizer.state());
    initializer = new Initializer(tf, model);
    zero = tf.withName("zero").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    initOptimizer = optimizer.reset(tf, zero);

    Ops t = tf.withSubScope("train");
    x =
        t.withName("x")
            .placeholder(
                TInt32.class, Placeholder.shape(Shape.of(c.globalBatchSize(), c.blockSize())));
    y =
        t.withName("y")
            .placeholder(
                TInt32.class, Placeholder.shape(Shape.of(c.globalBatchSize(), c.blockSize())));
    lr = t.withName("lr").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    dropoutRate = (float) c.dropout();
    dropout = c.dropout() > 0 ? dropoutInputs(t) : null;
    Replica replica =
        c.cluster() == null
            ? Replica.build(graph, t, hp, c, model, params, x, y, dropout)
            : DataParallel.across(c.cluster(), graph, t, hp, c, model, x, y, dropout);
    loss = replica.loss();
    aux = replica.aux();
    List<Operand<TFloat32>> grads = replica.gradients();
    lossGradients = grads;

    List<Variable> accumulators = new ArrayList<>();
    if (c.accumulationSteps() > 1) {
      List<Op> adds = new ArrayList<>();
      for (int i = 0; i < params.size(); i++) {
        Variable p = params.get(i);
        Variable acc =
            ModelVariables.create(
                t,
                p.name() + "/grad_accumulator",
                new ModelVariables.Init.Constant(0),
                false,
                p.shape());
        accumulators.add(acc);
        initAccumulators.add(ModelVariables.fill(t, acc, zero));
        adds.add(t.assignAddVariableOp(acc.handle(), grads.get(i)));
      }
      accumulate = t.withControlDependencies(adds).noOp();
      // the mean gradient over the micro-batches: this one plus those accumulated before it
      List<Operand<TFloat32>> mean = new ArrayList<>();
      for (int i = 0; i < params.size(); i++) {
        mean.add(
            t.math.div(
                t.math.add(accumulators.get(i).float32(), grads.get(i)),
                t.constant((float) c.accumulationSteps())));
      }
      grads = mean;
    } else {
      accumulate = null;
    }

    gradNorm = globalNorm(t, grads);
    List<Operand<TFloat32>> clipped =
        c.gradClip() > 0 ? clip(t, grads, gradNorm, c.gradClip()) : grads;
    List<Op> updates = optimizer.update(tf, params, lossGradients, clipped, lr);
    List<Op> after = new ArrayList<>(updates);
    Ops afterUpdate = t.withControlDependencies(updates);
    for (Variable acc : accumulators) {
      after.add(ModelVariables.fill(afterUpdate, acc, zero));
    }
    step = t.withControlDependencies(after).noOp();
  }

  /** Dropout's seed pair and rate, as placeholders that default to zeros (no dropout). */
  static Gpt2.Dropout dropoutInputs(Ops tf) {
    return new Gpt2.Dropout(
        tf.withName("dropout_seed").placeholderWithDefault(tf.constant(new long[2]), Shape.of(2)),
        tf.withName("dropout_rate").placeholderWithDefault(tf.constant(0f), Shape.scalar()));
  }

  /**
   * A decoding graph over the live weights, added to this graph when first asked for (a session
   * takes in ops added after it was made): runs that print no samples never build it.
   */
  DecodingGraph sampler() {
    if (sampler == null) {
      sampler = new DecodingGraph(tf, hp, model.params());
    }
    return sampler;
  }

  /**
   * Scoring over the live weights (for a run's eval_task), built when first asked for; left out of
   * XLA's auto-clustering, which would compile it anew for every shape of its batches.
   */
  ContinuationScorer continuationScorer(Session session) {
    if (continuationScorer == null) {
      continuationScorer =
          new ContinuationScorer(UnclusteredOps.of(tf), hp, model.params(), session);
    }
    return continuationScorer;
  }

  // sqrt(sum of squares of every gradient)
  private static Operand<TFloat32> globalNorm(Ops tf, List<Operand<TFloat32>> grads) {
    List<Operand<TFloat32>> squares = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      squares.add(
          tf.reduceSum(tf.math.square(g), tf.range(tf.constant(0), tf.rank(g), tf.constant(1))));
    }
    return tf.math.sqrt(tf.math.addN(squares));
  }

  // torch.nn.utils.clip_grad_norm_: scale by min(1, max_norm / (norm + 1e-6))
  private static List<Operand<TFloat32>> clip(
      Ops tf, List<Operand<TFloat32>> grads, Operand<TFloat32> norm, double maxNorm) {
    Operand<TFloat32> scale =
        tf.math.minimum(
            tf.constant(1f),
            tf.math.div(tf.constant((float) maxNorm), tf.math.add(norm, tf.constant(1e-6f))));
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      out.add(tf.math.mul(g, scale));
    }
    return out;
  }
}
