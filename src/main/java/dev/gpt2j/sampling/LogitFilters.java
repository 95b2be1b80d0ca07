package dev.gpt2j.sampling;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Gather;
import org.tensorflow.op.core.ReduceMin;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Logit filters and draws as pure graph functions, after openai/gpt-2 sample.py. All take and give
 * logits [B, n_vocab]; filtered-out entries are set to -1e10 as openai does.
 */
public final class LogitFilters {
  private LogitFilters() {}

  // [B, V] -> [B, V]
  public static Operand<TFloat32> temperature(
      Ops tf, Operand<TFloat32> logits, Operand<TFloat32> t) {
    return tf.math.div(logits, t);
  }

  // [B, V] -> [B, V]; openai top_k_logits: keep logits >= the k-th largest (ties kept); k = 0 keeps
  // all
  public static Operand<TFloat32> topK(Ops tf, Operand<TFloat32> logits, Operand<TInt32> k) {
    Operand<TInt32> vocab = tf.gather(tf.shape(logits), tf.constant(1), tf.constant(0));
    Operand<TInt32> kEff =
        tf.select(tf.math.equal(k, tf.constant(0)), vocab, tf.math.minimum(k, vocab));
    Operand<TFloat32> values = tf.nn.topK(logits, kEff, TInt32.class).values();
    Operand<TFloat32> kth = tf.reduceMin(values, tf.constant(-1), ReduceMin.keepDims(true));
    return maskBelow(tf, logits, kth);
  }

  // [B, V] -> [B, V]; openai top_p_logits: sort descending, keep the tokens whose inclusive
  // cumulative probability is <= p (at least one), and every logit >= the last kept one
  public static Operand<TFloat32> topP(Ops tf, Operand<TFloat32> logits, Operand<TFloat32> p) {
    Operand<TInt32> vocab = tf.gather(tf.shape(logits), tf.constant(1), tf.constant(0));
    Operand<TFloat32> sorted = tf.nn.topK(logits, vocab, TInt32.class).values();
    Operand<TFloat32> cumulative = tf.math.cumsum(tf.nn.softmax(sorted), tf.constant(-1));
    Operand<TInt32> kept =
        tf.reduceSum(
            tf.dtypes.cast(tf.math.lessEqual(cumulative, p), TInt32.class), tf.constant(-1));
    Operand<TInt32> last = tf.math.maximum(tf.math.sub(kept, tf.constant(1)), tf.constant(0));
    Operand<TFloat32> minValues =
        tf.gather(
            sorted, tf.expandDims(last, tf.constant(-1)), tf.constant(1), Gather.batchDims(1L));
    return maskBelow(tf, logits, minValues);
  }

  // [B, V] -> [B] int32; one categorical draw per row, a pure function of (logits, seed)
  public static Operand<TInt32> draw(Ops tf, Operand<TFloat32> logits, Operand<TInt64> seed) {
    Operand<TInt32> one =
        tf.random.statelessMultinomial(logits, tf.constant(1), seed, TInt32.class);
    return tf.squeeze(one, org.tensorflow.op.core.Squeeze.axis(List.of(1L)));
  }

  // [B, V] -> [B] int32
  public static Operand<TInt32> argmax(Ops tf, Operand<TFloat32> logits) {
    return tf.math.argMax(logits, tf.constant(-1), TInt32.class);
  }

  // where(logits < threshold, -1e10, logits), threshold [B, 1]
  private static Operand<TFloat32> maskBelow(
      Ops tf, Operand<TFloat32> logits, Operand<TFloat32> threshold) {
    return tf.select(tf.math.less(logits, threshold), tf.constant(-1e10f), logits);
  }
}
