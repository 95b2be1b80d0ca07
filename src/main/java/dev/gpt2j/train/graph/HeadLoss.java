package dev.gpt2j.train.graph;

import dev.gpt2j.model.DType;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceMax;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.core.Stack;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;

/**
 * The training loss at the tied output layer, with its gradients written out rather than left to
 * TF's gradient registry: the mean cross-entropy of softmax(h wte^T) against the targets, d loss /
 * d h, and the output layer's share of d loss / d wte.
 *
 * <p>Why by hand: its three products ([rows, C] x [C, n_vocab] and back) are most of a small
 * model's step, and TF's own MatMul (oneDNN) computes them faster than XLA's dot does
 * (docs/benchmarks.md). Marking an op {@code _XlaCompile=false} keeps auto-clustering from taking
 * it into XLA, but the registry's gradient MatMuls would not carry the mark; these do.
 *
 * @param loss mean over all positions of -log p(target)
 * @param dH d loss / d h, shaped like h
 * @param dWte d loss / d wte through the output layer only (the embedding lookup adds its own)
 */
record HeadLoss(Operand<TFloat32> loss, Operand<TFloat32> dH, Operand<TFloat32> dWte) {

  // h [B, T, C], wte [n_vocab, C], targets [B, T]; the three products in bfloat16 when asked
  static HeadLoss of(
      Ops tf,
      Operand<TFloat32> h,
      Operand<TFloat32> wte,
      Operand<TInt32> targets,
      boolean bfloat16) {
    Operand<TFloat32> flat = tf.reshape(h, tf.constant(new long[] {-1, wte.shape().get(1)}));
    Operand<TInt32> y = tf.reshape(targets, tf.constant(new int[] {-1}));
    // each operand cast once, though two products use it
    Operand<? extends TNumber> flatIn = productOperand(tf, flat, bfloat16);
    Operand<? extends TNumber> wteIn = productOperand(tf, wte, bfloat16);
    Operand<TFloat32> logits = matMul(tf, flatIn, wteIn, false, true);
    // loss_i = log sum_j exp(z_ij) - z_iy with z = logits - max: one pass for the max, one for the
    // sum, and a gather for the target's entry. In the baby step this measured a little faster
    // under XLA than TF's fused SparseSoftmaxCrossEntropyWithLogits (docs/benchmarks.md).
    Operand<TInt32> vocabAxis = tf.constant(1);
    Operand<TFloat32> z =
        tf.math.sub(logits, tf.reduceMax(logits, vocabAxis, ReduceMax.keepDims(true)));
    Operand<TFloat32> sumExp = tf.reduceSum(tf.math.exp(z), vocabAxis, ReduceSum.keepDims(true));
    Operand<TInt32> rows = tf.size(y);
    Operand<TFloat32> zTarget =
        tf.gatherNd(
            z,
            tf.stack(List.of(tf.range(tf.constant(0), rows, tf.constant(1)), y), Stack.axis(1L)));
    Operand<TFloat32> losses = tf.math.sub(tf.reshape(tf.math.log(sumExp), tf.shape(y)), zTarget);
    // d (sum of losses) / d logits = softmax(logits) - one_hot(y); the mean's 1/rows scales the
    // two small products, not the [rows, n_vocab] one
    Operand<TFloat32> dLogits =
        tf.math.sub(
            tf.math.div(tf.math.exp(z), sumExp),
            tf.oneHot(y, tf.constant((int) wte.shape().get(0)), tf.constant(1f), tf.constant(0f)));
    Operand<TFloat32> perRow = tf.math.div(tf.constant(1f), tf.dtypes.cast(rows, TFloat32.class));
    Operand<? extends TNumber> dLogitsIn = productOperand(tf, dLogits, bfloat16);
    Operand<TFloat32> dFlat = tf.math.mul(matMul(tf, dLogitsIn, wteIn, false, false), perRow);
    Operand<TFloat32> dWte = tf.math.mul(matMul(tf, dLogitsIn, flatIn, true, false), perRow);
    return new HeadLoss(tf.math.mean(losses, tf.constant(0)), tf.reshape(dFlat, tf.shape(h)), dWte);
  }

  private static Operand<? extends TNumber> productOperand(
      Ops tf, Operand<TFloat32> x, boolean bfloat16) {
    return bfloat16 ? tf.dtypes.cast(x, TBfloat16.class) : x;
  }

  // TF's MatMul kernel, kept out of XLA's clusters, in the operands' dtype; the product as float32
  private static Operand<TFloat32> matMul(
      Ops tf,
      Operand<? extends TNumber> a,
      Operand<? extends TNumber> b,
      boolean transposeA,
      boolean transposeB) {
    Output<TNumber> product = // MatMul's output has its inputs' dtype
        tf.scope()
            .opBuilder("MatMul", "MatMul")
            .addInput(a.asOutput())
            .addInput(b.asOutput())
            .setAttr("transpose_a", transposeA)
            .setAttr("transpose_b", transposeB)
            .setAttr("_XlaCompile", false)
            .build()
            .output(0);
    return DType.float32(tf, product);
  }
}
