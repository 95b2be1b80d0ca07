package dev.gpt2j.sampling;

import dev.gpt2j.kernels.FusedBlocks;
import dev.gpt2j.kernels.NativeKernels;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.Product;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The graph a {@link Decoder} runs, over a model's weights and a {@link KvCache}: a prefill that
 * puts any number of positions into the cache, and a step that puts one position per row through
 * the network and draws the next token with openai's filters. Built once, in any graph that holds
 * the weights (a sampling model's, or a training run's, to sample from the live weights).
 */
public final class DecodingGraph {
  final HParams hp;
  final KvCache cache;
  final Placeholder<TInt32> tokens;
  final Operation prefill;

  /** The prefill's logits [B, T, n_vocab], computed only when a run fetches them. */
  final Operand<TFloat32> prefillLogits;

  final Placeholder<TInt32> stepTokens;

  /** Copies the weights into the layouts the step reads: run when the weights change. */
  final Op repack;

  final Placeholder<TFloat32> temperature;
  final Placeholder<TInt32> topK;
  final Placeholder<TFloat32> topP;
  final Placeholder<TInt64> seed;

  /**
   * A step's outputs: each row's logits [B, n_vocab], and its next token drawn by each filter.
   * Decoding builds two: one on our ops for up to {@link NativeKernels#MAX_NATIVE_ROWS} rows (a
   * {@link FusedBlocks} op for every block where it computes the model's blocks, else the graph's
   * blocks on our matrix-vector kernels), one on TF's MatMul for more, so that a step's products
   * are chosen when it is run, not by a switch inside the graph, whose untaken branch the executor
   * would walk through at every product of every step.
   */
  record Step(
      Operand<TFloat32> logits,
      Operand<TInt32> greedyNext,
      Operand<TInt32> plainNext,
      Operand<TInt32> topKNext,
      Operand<TInt32> topPNext) {

    /** The op that draws the next tokens as {@code o} says: argmax, or a draw after its filters. */
    Operand<TInt32> next(SampleOptions o) {
      return o.greedy()
          ? greedyNext
          : o.topP() < 1 ? topPNext : o.topK() > 0 ? topKNext : plainNext;
    }
  }

  private final Step fewRows;
  private final Step manyRows;

  public DecodingGraph(Ops tf, HParams hp, Params params) {
    this.hp = hp;
    Ops s = tf.withSubScope("sampler");
    cache = new KvCache(s, hp);
    tokens = s.withName("tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
    Gpt2.Forward prefilled = Gpt2.gpt2(tf, hp, tokens, params, cache, Product.MATMUL);
    prefill = prefilled.h().op();
    prefillLogits = prefilled.logits();
    // every shape but the batch is static, and each row is one position: matrix-vector products
    stepTokens =
        s.withName("step_tokens").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, 1)));
    temperature =
        s.withName("temperature").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    topK = s.withName("top_k").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    topP = s.withName("top_p").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    seed = s.withName("seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
    NativeKernels.StepProduct product = NativeKernels.decodingStep();
    Ops few = tf.withSubScope("few_rows");
    fewRows =
        step(
            few,
            FusedBlocks.computes(hp.arch())
                ? FusedStep.logits(few, hp, stepTokens, params, cache, product)
                : graphLogits(few, params, product));
    repack = s.withName("repack").withControlDependencies(product.repack()).noOp();
    Ops many = tf.withSubScope("many_rows");
    manyRows =
        NativeKernels.loaded() ? step(many, graphLogits(many, params, Product.MATMUL)) : fewRows;
  }

  // [B, n_vocab]: the picoGPT-style graph's step, one position per row, products by `product`
  private Operand<TFloat32> graphLogits(Ops tf, Params params, Product product) {
    return tf.squeeze(
        Gpt2.gpt2(tf, hp, stepTokens, params, cache, product).logits(), Squeeze.axis(List.of(1L)));
  }

  // a step's next tokens from its logits [B, n_vocab], by each filter
  private Step step(Ops tf, Operand<TFloat32> logits) {
    Operand<TFloat32> scaled = LogitFilters.temperature(tf, logits, temperature);
    Operand<TFloat32> afterK = LogitFilters.topK(tf, scaled, topK);
    return new Step(
        logits,
        LogitFilters.argmax(tf, logits),
        LogitFilters.draw(tf, scaled, seed),
        LogitFilters.draw(tf, afterK, seed),
        LogitFilters.draw(tf, LogitFilters.topP(tf, afterK, topP), seed));
  }

  /** The step to run for {@code rows} rows. */
  Step step(int rows) {
    return rows <= NativeKernels.MAX_NATIVE_ROWS ? fewRows : manyRows;
  }
}
