package dev.gpt2j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceMax;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.core.Stack;
import org.tensorflow.op.math.Mean;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;

/**
 * GPT-2 as small graph functions, in the shape of picoGPT's gpt2.py with openai/gpt-2 model.py's
 * names, constants and op order. Pure functions of {@code Ops} and operands: no variables, no
 * session. Shapes: B batch, T new positions, S = past + T positions, C n_embd, H heads, D = C/H.
 */
public final class Gpt2 {
  private Gpt2() {}

  // [.., n] -> [.., n]; openai/gpt-2 gelu(): the tanh approximation
  public static Operand<TFloat32> gelu(Ops tf, Operand<TFloat32> x) {
    Operand<TFloat32> inner =
        tf.math.mul(
            f(tf, Math.sqrt(2 / Math.PI)),
            tf.math.add(x, tf.math.mul(f(tf, 0.044715), tf.math.pow(x, f(tf, 3)))));
    return tf.math.mul(tf.math.mul(f(tf, 0.5), x), tf.math.add(f(tf, 1), tf.math.tanh(inner)));
  }

  // [.., n] -> [.., n]; max-subtracted, over the last axis
  public static Operand<TFloat32> softmax(Ops tf, Operand<TFloat32> x) {
    Operand<TFloat32> ex =
        tf.math.exp(tf.math.sub(x, tf.reduceMax(x, lastAxis(tf), ReduceMax.keepDims(true))));
    return tf.math.div(ex, tf.reduceSum(ex, lastAxis(tf), ReduceSum.keepDims(true)));
  }

  // [.., C] -> [.., C]; mean and variance over the last axis, eps 1e-5
  public static Operand<TFloat32> layerNorm(Ops tf, Operand<TFloat32> x, Params.LayerNorm p) {
    Operand<TFloat32> u = tf.math.mean(x, lastAxis(tf), Mean.keepDims(true));
    Operand<TFloat32> s =
        tf.math.mean(tf.math.square(tf.math.sub(x, u)), lastAxis(tf), Mean.keepDims(true));
    Operand<TFloat32> normed =
        tf.math.mul(tf.math.sub(x, u), tf.math.rsqrt(tf.math.add(s, f(tf, 1e-5))));
    return tf.math.add(tf.math.mul(normed, p.g()), p.b());
  }

  // [.., nx] -> [.., nf]; OpenAI's conv1d: w is [1, nx, nf] as stored
  public static Operand<TFloat32> linear(
      Ops tf, Operand<TFloat32> x, Params.Linear p, Product product) {
    long nx = p.w().shape().get(1);
    long nf = p.w().shape().get(2);
    Operand<TFloat32> flat = tf.reshape(x, tf.constant(new long[] {-1, nx}));
    Operand<? extends TNumber> w = tf.reshape(p.w(), tf.constant(new long[] {nx, nf}));
    Operand<TFloat32> y = tf.math.add(product.apply(tf, flat, w, false), p.b());
    return tf.reshape(y, shapeList(tf, x, x.shape().numDimensions() - 1, nf));
  }

  // [B, T, C] -> [B, T, C]; position-wise feed-forward: c_fc, gelu, c_proj
  public static Operand<TFloat32> ffn(Ops tf, Operand<TFloat32> x, Params.Mlp p, Product product) {
    return linear(tf, gelu(tf, linear(tf, x, p.cFc(), product)), p.cProj(), product);
  }

  // q [B, H, T, D], kv [B, H, S, D] -> [B, H, T, D]; causal: position i sees keys <= valid-T+i
  public static Operand<TFloat32> attention(Ops tf, Operand<TFloat32> q, Memory.KeysValues kv) {
    long d = q.shape().get(3);
    Operand<TFloat32> w =
        tf.math.mul(
            tf.train.batchMatMul(q, kv.k(), TFloat32.class, BatchMatMul.adjY(true)),
            f(tf, 1 / Math.sqrt(d)));
    return tf.train.batchMatMul(
        softmax(tf, maskAttnWeights(tf, w, kv.valid())), kv.v(), TFloat32.class);
  }

  // [B, H, T, S] -> same; openai's mask_attn_weights: w*b - 1e10*(1-b), b[i, j] = i >= j - ns + T
  // with ns = valid keys (= S unless a preallocated cache's tail is masked too)
  static Operand<TFloat32> maskAttnWeights(Ops tf, Operand<TFloat32> w, Operand<TInt32> ns) {
    Operand<TInt32> nd = dim(tf, w, 2);
    Operand<TInt32> i = tf.expandDims(tf.range(tf.constant(0), nd, tf.constant(1)), tf.constant(1));
    Operand<TInt32> j = tf.range(tf.constant(0), dim(tf, w, 3), tf.constant(1));
    Operand<TFloat32> b =
        tf.dtypes.cast(
            tf.math.greaterEqual(i, tf.math.add(tf.math.sub(j, ns), nd)), TFloat32.class);
    return tf.math.sub(tf.math.mul(w, b), tf.math.mul(f(tf, 1e10), tf.math.sub(f(tf, 1), b)));
  }

  record AttnOut(Operand<TFloat32> a, Operand<TFloat32> present) {}

  // x [B, T, C] -> a [B, T, C], present [B, 2, H, T, D]; memory (or null) supplies earlier
  // positions
  static AttnOut mha(
      Ops tf,
      Operand<TFloat32> x,
      Params.Attn p,
      int nHead,
      int layer,
      Memory memory,
      Product product) {
    Operand<TFloat32> c = linear(tf.withSubScope("c_attn"), x, p.cAttn(), product);
    List<Output<TFloat32>> qkv = tf.split(tf.constant(2), c, 3L).output();
    Operand<TFloat32> q = splitHeads(tf, qkv.get(0), nHead);
    Memory.KeysValues kv =
        new Memory.KeysValues(
            tf, splitHeads(tf, qkv.get(1), nHead), splitHeads(tf, qkv.get(2), nHead));
    Operand<TFloat32> present = tf.stack(List.of(kv.k(), kv.v()), Stack.axis(1L));
    if (memory != null) {
      kv = memory.extend(tf, layer, kv);
    }
    Operand<TFloat32> a = mergeHeads(tf, attention(tf, q, kv));
    return new AttnOut(linear(tf.withSubScope("c_proj"), a, p.cProj(), product), present);
  }

  /** A block's output [B, T, C] and its new keys and values [B, 2, H, T, D]. */
  public record BlockOut(Operand<TFloat32> x, Operand<TFloat32> present) {}

  // [B, T, C] -> [B, T, C]; pre-norm residual block
  public static BlockOut transformerBlock(
      Ops tf,
      Operand<TFloat32> x,
      Params.Block p,
      int nHead,
      int layer,
      Memory memory,
      Product product) {
    AttnOut attn =
        mha(
            tf.withSubScope("attn"),
            layerNorm(tf.withSubScope("ln_1"), x, p.ln1()),
            p.attn(),
            nHead,
            layer,
            memory,
            product);
    x = tf.math.add(x, attn.a());
    Operand<TFloat32> m =
        ffn(
            tf.withSubScope("mlp"),
            layerNorm(tf.withSubScope("ln_2"), x, p.ln2()),
            p.mlp(),
            product);
    return new BlockOut(tf.math.add(x, m), attn.present());
  }

  /**
   * What {@link #gpt2} gives: {@code h} the final hidden states after ln_f [B, T, C], {@code
   * logits} [B, T, n_vocab] and {@code present} the new keys and values [B, n_layer, 2, H, T, D]. A
   * graph run computes only what it fetches.
   */
  public record Forward(Operand<TFloat32> h, Operand<TFloat32> logits, Operand<TFloat32> present) {}

  // tokens [B, T] int32 -> Forward; memory (or null) holds earlier positions; openai/gpt-2 model()
  public static Forward gpt2(
      Ops tf, HParams hp, Operand<TInt32> tokens, Params p, Memory memory, Product product) {
    Ops model = tf.withSubScope("model");
    Operand<TInt32> start = memory == null ? model.constant(0) : memory.length();
    Operand<TFloat32> h = embeddings(model, tokens, start, p);
    List<Operand<TFloat32>> presents = new ArrayList<>();
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      BlockOut out =
          transformerBlock(
              model.withSubScope("h" + layer),
              h,
              p.h().get(layer),
              hp.nHead(),
              layer,
              memory,
              product);
      h = out.x();
      presents.add(out.present());
    }
    h = layerNorm(model.withSubScope("ln_f"), h, p.lnF());
    return new Forward(
        h, lmHead(model, h, p.wte(), product), model.stack(presents, Stack.axis(1L)));
  }

  // tokens [B, T] at positions start.. -> [B, T, C]: token plus position embeddings
  public static Operand<TFloat32> embeddings(
      Ops tf, Operand<TInt32> tokens, Operand<TInt32> start, Params p) {
    // start + range(t), not range(start, start + t): its length stays static when t is
    Operand<TInt32> positions =
        tf.math.add(start, tf.range(tf.constant(0), dim(tf, tokens, 1), tf.constant(1)));
    return tf.math.add(
        DType.float32(tf, tf.gather(p.wte(), tokens, tf.constant(0))),
        DType.float32(tf, tf.gather(p.wpe(), positions, tf.constant(0))));
  }

  // [.., C] -> [.., n_vocab]; the output head is tied to the token embedding wte
  static Operand<TFloat32> lmHead(
      Ops tf, Operand<TFloat32> h, Operand<? extends TNumber> wte, Product product) {
    Operand<TFloat32> flat = tf.reshape(h, tf.constant(new long[] {-1, wte.shape().get(1)}));
    return tf.reshape(
        product.apply(tf, flat, wte, true),
        shapeList(tf, h, h.shape().numDimensions() - 1, wte.shape().get(0)));
  }

  // logits [B, T, n_vocab], targets [B, T] -> [B, T]: log p(target) under softmax(logits), from
  // TF's fused SparseSoftmaxCrossEntropyWithLogits (one pass over the [B*T, n_vocab] logits)
  public static Operand<TFloat32> logprobs(
      Ops tf, Operand<TFloat32> logits, Operand<TInt32> targets) {
    Operand<TFloat32> flat =
        tf.reshape(logits, tf.stack(List.of(tf.constant(-1), dim(tf, logits, 2))));
    Operand<TFloat32> xent =
        tf.nn
            .sparseSoftmaxCrossEntropyWithLogits(
                flat, tf.reshape(targets, tf.constant(new int[] {-1})))
            .loss();
    return tf.math.neg(tf.reshape(xent, tf.shape(targets)));
  }

  // [B, T, C] -> [B, H, T, D]; openai's split_heads
  static Operand<TFloat32> splitHeads(Ops tf, Operand<TFloat32> x, int nHead) {
    return tf.linalg.transpose(splitStates(tf, x, nHead), tf.constant(new int[] {0, 2, 1, 3}));
  }

  // [B, H, T, D] -> [B, T, C]; openai's merge_heads
  static Operand<TFloat32> mergeHeads(Ops tf, Operand<TFloat32> x) {
    return mergeStates(tf, tf.linalg.transpose(x, tf.constant(new int[] {0, 2, 1, 3})));
  }

  // [.., m] -> [.., n, m/n]; openai's split_states
  static Operand<TFloat32> splitStates(Ops tf, Operand<TFloat32> x, int n) {
    int last = x.shape().numDimensions() - 1;
    return tf.reshape(x, shapeList(tf, x, last, n, x.shape().get(last) / n));
  }

  // [.., a, b] -> [.., a*b]; openai's merge_states
  static Operand<TFloat32> mergeStates(Ops tf, Operand<TFloat32> x) {
    int rank = x.shape().numDimensions();
    return tf.reshape(
        x, shapeList(tf, x, rank - 2, x.shape().get(rank - 2) * x.shape().get(rank - 1)));
  }

  // openai's shape_list(x)[:keep] + tail, as one shape operand. A constant when the graph knows
  // those dims (at most one unknown, written -1): TF Java's sessions do not fold shape arithmetic,
  // and a decoding step would run hundreds of these tiny ops per token otherwise.
  private static Operand<TInt32> shapeList(Ops tf, Operand<?> x, int keep, long... tail) {
    Shape shape = x.shape();
    if (!shape.isUnknown()
        && Arrays.stream(shape.asArray(), 0, keep).filter(n -> n < 0).count() <= 1) {
      return tf.constant(
          LongStream.concat(Arrays.stream(shape.asArray(), 0, keep), Arrays.stream(tail))
              .mapToInt(Math::toIntExact)
              .toArray());
    }
    return tf.concat(
        List.of(
            tf.stridedSlice(tf.shape(x), Indices.sliceTo(keep)),
            tf.constant(Arrays.stream(tail).mapToInt(Math::toIntExact).toArray())),
        tf.constant(0));
  }

  /** Dimension {@code axis} of {@code x}: a constant when the graph knows it. */
  public static Operand<TInt32> dim(Ops tf, Operand<?> x, int axis) {
    long known = x.shape().isUnknown() ? -1 : x.shape().get(axis);
    return known >= 0
        ? tf.constant((int) known)
        : tf.gather(tf.shape(x), tf.constant(axis), tf.constant(0));
  }

  private static Operand<TInt32> lastAxis(Ops tf) {
    return tf.constant(-1);
  }

  private static Operand<TFloat32> f(Ops tf, double value) {
    return tf.constant((float) value);
  }
}
