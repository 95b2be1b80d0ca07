package dev.gpt2j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
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
import org.tensorflow.types.TInt64;
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

  // [.., C] -> [.., C]; mean and variance over the last axis, eps 1e-5; no bias without one
  public static Operand<TFloat32> layerNorm(Ops tf, Operand<TFloat32> x, Params.Norm p) {
    Operand<TFloat32> u = tf.math.mean(x, lastAxis(tf), Mean.keepDims(true));
    Operand<TFloat32> s =
        tf.math.mean(tf.math.square(tf.math.sub(x, u)), lastAxis(tf), Mean.keepDims(true));
    Operand<TFloat32> normed =
        tf.math.mul(tf.math.sub(x, u), tf.math.rsqrt(tf.math.add(s, f(tf, 1e-5))));
    return plusBias(tf, tf.math.mul(normed, p.g()), p.b());
  }

  // [.., C] -> [.., C]; x / sqrt(mean(x^2) + 1e-5) * g, as LLaMA
  public static Operand<TFloat32> rmsNorm(Ops tf, Operand<TFloat32> x, Params.Norm p) {
    Operand<TFloat32> ms = tf.math.mean(tf.math.square(x), lastAxis(tf), Mean.keepDims(true));
    return tf.math.mul(tf.math.mul(x, tf.math.rsqrt(tf.math.add(ms, f(tf, 1e-5)))), p.g());
  }

  // [.., C] -> [.., C]; the norm the architecture names
  public static Operand<TFloat32> norm(
      Ops tf, Operand<TFloat32> x, Params.Norm p, Architecture arch) {
    return arch.norm() == Architecture.Norm.RMSNORM ? rmsNorm(tf, x, p) : layerNorm(tf, x, p);
  }

  // [.., nx] -> [.., nf]; OpenAI's conv1d: w is [1, nx, nf] as stored
  public static Operand<TFloat32> linear(
      Ops tf, Operand<TFloat32> x, Params.Linear p, Product product) {
    long nx = p.w().shape().get(1);
    long nf = p.w().shape().get(2);
    Operand<TFloat32> flat = tf.reshape(x, tf.constant(new long[] {-1, nx}));
    Operand<? extends TNumber> w = tf.reshape(p.w(), tf.constant(new long[] {nx, nf}));
    Operand<TFloat32> y = plusBias(tf, product.apply(tf, flat, w, false), p.b());
    return tf.reshape(y, shapeList(tf, x, x.shape().numDimensions() - 1, nf));
  }

  // [.., n] -> [.., n]; x * sigmoid(x)
  static Operand<TFloat32> silu(Ops tf, Operand<TFloat32> x) {
    return tf.math.mul(x, tf.math.sigmoid(x));
  }

  // [B, T, C] -> [B, T, C]; position-wise feed-forward: c_fc, gelu (or relu), c_proj; or SwiGLU,
  // c_proj(silu(c_gate(x)) * c_fc(x))
  public static Operand<TFloat32> ffn(
      Ops tf, Operand<TFloat32> x, Params.Mlp p, Architecture arch, Product product) {
    Operand<TFloat32> h =
        activation(
            tf,
            arch.mlp(),
            linear(tf.withSubScope("c_fc"), x, p.cFc(), product),
            () -> linear(tf.withSubScope("c_gate"), x, p.cGate(), product));
    return linear(tf.withSubScope("c_proj"), h, p.cProj(), product);
  }

  // c_fc's output -> the hidden layer: gelu, relu, or silu(c_gate's output) * it
  private static Operand<TFloat32> activation(
      Ops tf, Architecture.Mlp mlp, Operand<TFloat32> fc, Supplier<Operand<TFloat32>> gate) {
    return switch (mlp) {
      case GELU -> gelu(tf, fc);
      case RELU -> tf.nn.relu(fc);
      case SWIGLU -> tf.math.mul(silu(tf, gate.get()), fc);
    };
  }

  /** A mixture's output [B, T, C] and its load-balancing loss (a scalar). */
  record MoeOut(Operand<TFloat32> y, Operand<TFloat32> aux) {}

  // [B, T, C] -> [B, T, C]; each token's top-k experts by router logit, weighted by a softmax over
  // those k logits (Mixtral). Every expert computes every token and the gate is zero outside the
  // top k: a small model's experts cost E dense MLPs, with no gather or scatter in the graph.
  static MoeOut moe(Ops tf, Operand<TFloat32> x, Params.Mlp p, Architecture arch) {
    int e = arch.moeExperts();
    long c = x.shape().get(x.shape().numDimensions() - 1);
    Operand<TFloat32> flat = tf.reshape(x, tf.constant(new long[] {-1, c})); // [N, C]
    Operand<TFloat32> logits =
        tf.linalg.matMul(
            flat, tf.reshape(DType.float32(tf, p.router()), tf.constant(new long[] {c, e})));
    // the top k chosen without a gradient (TopK has none); ties go to the lower index
    Operand<TInt32> chosen =
        tf.nn.topK(tf.stopGradient(logits), tf.constant(arch.moeTopK()), TInt32.class).indices();
    Operand<TFloat32> slots = // [N, k, E], one-hot rows of the chosen experts
        tf.stopGradient(tf.oneHot(chosen, tf.constant(e), f(tf, 1), f(tf, 0)));
    Operand<TFloat32> routed = tf.reduceSum(slots, tf.constant(1)); // [N, E], 1 where chosen
    // softmax over the chosen logits only: the others masked to exp(-inf) = 0
    Operand<TFloat32> masked =
        tf.math.add(logits, tf.math.mul(tf.math.sub(routed, f(tf, 1)), f(tf, 1e30)));
    Operand<TFloat32> gate = softmax(tf, masked); // [N, E]
    Operand<TFloat32> hidden = // [E, N, h]
        activation(
            tf,
            arch.mlp(),
            expertLinear(tf.withSubScope("c_fc"), flat, p.cFc()),
            () -> expertLinear(tf.withSubScope("c_gate"), flat, p.cGate()));
    Operand<TFloat32> y = expertLinear(tf.withSubScope("c_proj"), hidden, p.cProj()); // [E, N, C]
    Operand<TFloat32> weighted =
        tf.math.mul(
            y,
            tf.expandDims(
                tf.linalg.transpose(gate, tf.constant(new int[] {1, 0})), tf.constant(2)));
    Operand<TFloat32> out =
        tf.reshape(
            tf.reduceSum(weighted, tf.constant(0)),
            shapeList(tf, x, x.shape().numDimensions() - 1, c));
    // Switch Transformer: E * sum_e f_e P_e, f_e the share of token-slots routed to e, P_e the
    // mean router probability of e
    Operand<TFloat32> share =
        tf.math.div(tf.math.mean(routed, tf.constant(0)), f(tf, arch.moeTopK()));
    Operand<TFloat32> meanProbability = tf.math.mean(softmax(tf, logits), tf.constant(0));
    Operand<TFloat32> aux =
        tf.math.mul(f(tf, e), tf.reduceSum(tf.math.mul(share, meanProbability), tf.constant(0)));
    return new MoeOut(out, aux);
  }

  // [N, nx] or [E, N, nx] -> [E, N, nf]: every expert's conv1d, w [E, nx, nf], b [E, nf]
  private static Operand<TFloat32> expertLinear(Ops tf, Operand<TFloat32> x, Params.Linear p) {
    Operand<TFloat32> y = tf.train.batchMatMul(x, DType.float32(tf, p.w()), TFloat32.class);
    return p.b() == null ? y : tf.math.add(y, tf.expandDims(p.b(), tf.constant(1)));
  }

  // q [B, H, T, D], kv [B, Hkv, S, D] -> [B, H, T, D]; causal: position i sees keys <=
  // valid-T+i; query head j reads key/value head j / (H / Hkv)
  public static Operand<TFloat32> attention(
      Ops tf, Operand<TFloat32> q, Memory.KeysValues kv, Dropout dropout, int site) {
    long d = q.shape().get(3);
    int groups = (int) (q.shape().get(1) / kv.k().shape().get(1));
    Operand<TFloat32> w =
        tf.math.mul(
            tf.train.batchMatMul(
                q, repeatHeads(tf, kv.k(), groups), TFloat32.class, BatchMatMul.adjY(true)),
            f(tf, 1 / Math.sqrt(d)));
    Operand<TFloat32> weights =
        dropout(tf, softmax(tf, maskAttnWeights(tf, w, kv.valid())), dropout, site);
    return tf.train.batchMatMul(weights, repeatHeads(tf, kv.v(), groups), TFloat32.class);
  }

  // [B, Hkv, S, D] -> [B, Hkv * groups, S, D]: each key/value head repeated for its query heads
  static Operand<TFloat32> repeatHeads(Ops tf, Operand<TFloat32> x, int groups) {
    if (groups == 1) {
      return x;
    }
    Shape s = x.shape();
    Operand<TInt32> shape = tf.shape(x);
    Operand<TFloat32> tiled =
        tf.tile(tf.expandDims(x, tf.constant(2)), tf.constant(new int[] {1, 1, groups, 1, 1}));
    Operand<TInt32> b = tf.gather(shape, tf.constant(0), tf.constant(0));
    Operand<TInt32> len = tf.gather(shape, tf.constant(2), tf.constant(0));
    return tf.reshape(
        tiled,
        tf.stack(
            List.of(b, tf.constant((int) (s.get(1) * groups)), len, tf.constant((int) s.get(3)))));
  }

  // [B, H, T, S] -> same; openai's mask_attn_weights: w*b - 1e10*(1-b), b[i, j] = i >= j - ns + T
  // with ns = valid keys (= S unless a preallocated cache's tail is masked too), a scalar or one
  // per row [B] (a cache whose rows hold different lengths)
  static Operand<TFloat32> maskAttnWeights(Ops tf, Operand<TFloat32> w, Operand<TInt32> ns) {
    Operand<TInt32> nd = dim(tf, w, 2);
    Operand<TInt32> i = tf.expandDims(tf.range(tf.constant(0), nd, tf.constant(1)), tf.constant(1));
    Operand<TInt32> j = tf.range(tf.constant(0), dim(tf, w, 3), tf.constant(1));
    Operand<TInt32> perRow = tf.reshape(ns, tf.constant(new int[] {-1, 1, 1, 1}));
    Operand<TFloat32> b =
        tf.dtypes.cast(
            tf.math.greaterEqual(i, tf.math.add(tf.math.sub(j, perRow), nd)), TFloat32.class);
    return tf.math.sub(tf.math.mul(w, b), tf.math.mul(f(tf, 1e10), tf.math.sub(f(tf, 1), b)));
  }

  /**
   * Rotary angles of one pass's positions: cos and sin of p * f_i, [1 or B, 1, T, D/2] each (one
   * row, or one per row when rows start at different positions).
   */
  public record Rotary(Operand<TFloat32> cos, Operand<TFloat32> sin) {}

  // positions [1 or B, T] -> Rotary, f_i = theta^(-2i/D) for i < D/2
  static Rotary rotary(Ops tf, Operand<TInt32> positions, int d, double theta) {
    float[] frequencies = new float[d / 2];
    for (int i = 0; i < d / 2; i++) {
      frequencies[i] = (float) Math.pow(theta, -2.0 * i / d);
    }
    Operand<TFloat32> p = tf.dtypes.cast(positions, TFloat32.class);
    Operand<TFloat32> angles =
        tf.math.mul(tf.expandDims(p, tf.constant(2)), tf.constant(frequencies));
    Operand<TFloat32> heads = tf.expandDims(angles, tf.constant(1)); // the same for every head
    return new Rotary(tf.math.cos(heads), tf.math.sin(heads));
  }

  // [B, H, T, D] -> same; rotate-half (GPT-NeoX, Hugging Face LLaMA): the pair (x_i, x_{i+D/2})
  // turned by angle p * f_i
  static Operand<TFloat32> rope(Ops tf, Operand<TFloat32> x, Rotary r) {
    List<Output<TFloat32>> halves = tf.split(tf.constant(3), x, 2L).output();
    Operand<TFloat32> x1 = halves.get(0);
    Operand<TFloat32> x2 = halves.get(1);
    return tf.concat(
        List.of(
            tf.math.sub(tf.math.mul(x1, r.cos()), tf.math.mul(x2, r.sin())),
            tf.math.add(tf.math.mul(x2, r.cos()), tf.math.mul(x1, r.sin()))),
        tf.constant(3));
  }

  /**
   * Dropout in a training pass: each element zeroed with probability {@code rate} (a scalar), the
   * rest scaled by 1 / (1 - rate). The masks are stateless draws from {@code seed} [2] and the
   * site, so a block built again (recompute) draws the same masks.
   */
  public record Dropout(Operand<TInt64> seed, Operand<TFloat32> rate) {}

  // [..] -> [..]; x itself without dropout
  static Operand<TFloat32> dropout(Ops tf, Operand<TFloat32> x, Dropout d, int site) {
    if (d == null) {
      return x;
    }
    Operand<TInt64> seed = tf.math.add(d.seed(), tf.constant(new long[] {0, site}));
    // no gradient flows into the mask (the random op has none to give)
    Operand<TFloat32> uniform =
        tf.stopGradient(tf.random.statelessRandomUniform(tf.shape(x), seed, TFloat32.class));
    Operand<TFloat32> keep =
        tf.dtypes.cast(tf.math.greaterEqual(uniform, d.rate()), TFloat32.class);
    return tf.math.mul(x, tf.math.div(keep, tf.math.sub(f(tf, 1), d.rate())));
  }

  // dropout sites: 0 the embeddings, then three per block
  private static int site(int layer, int which) {
    return 1 + 3 * layer + which;
  }

  record AttnOut(Operand<TFloat32> a, Operand<TFloat32> present) {}

  // x [B, T, C] -> a [B, T, C], present [B, 2, Hkv, T, D]; memory (or null) supplies earlier
  // positions
  static AttnOut mha(Ops tf, Operand<TFloat32> x, Params.Attn p, int layer, Pass pass) {
    HParams hp = pass.hp();
    Operand<TFloat32> c = linear(tf.withSubScope("c_attn"), x, p.cAttn(), pass.product());
    int q = hp.nHead() * hp.headSize();
    int kv = hp.nKvHead() * hp.headSize();
    List<Output<TFloat32>> qkv =
        tf.splitV(c, tf.constant(new int[] {q, kv, kv}), tf.constant(-1), 3L).output();
    Operand<TFloat32> queries = splitHeads(tf, qkv.get(0), hp.nHead());
    Operand<TFloat32> keys = splitHeads(tf, qkv.get(1), hp.nKvHead());
    if (pass.rotary() != null) {
      queries = rope(tf, queries, pass.rotary());
      keys = rope(tf, keys, pass.rotary());
    }
    Memory.KeysValues fresh =
        new Memory.KeysValues(tf, keys, splitHeads(tf, qkv.get(2), hp.nKvHead()));
    Operand<TFloat32> present = tf.stack(List.of(fresh.k(), fresh.v()), Stack.axis(1L));
    Memory.KeysValues all = pass.memory() == null ? fresh : pass.memory().extend(tf, layer, fresh);
    Operand<TFloat32> a =
        mergeHeads(tf, attention(tf, queries, all, pass.dropout(), site(layer, 0)));
    Operand<TFloat32> out = linear(tf.withSubScope("c_proj"), a, p.cProj(), pass.product());
    return new AttnOut(dropout(tf, out, pass.dropout(), site(layer, 1)), present);
  }

  /**
   * A block's output [B, T, C], its new keys and values [B, 2, Hkv, T, D], and (for a mixture of
   * experts) its load-balancing loss, else null.
   */
  public record BlockOut(Operand<TFloat32> x, Operand<TFloat32> present, Operand<TFloat32> aux) {}

  // [B, T, C] -> [B, T, C]; pre-norm residual block
  public static BlockOut transformerBlock(
      Ops tf, Operand<TFloat32> x, Params.Block p, int layer, Pass pass) {
    Architecture arch = pass.hp().arch();
    AttnOut attn =
        mha(
            tf.withSubScope("attn"),
            norm(tf.withSubScope("ln_1"), x, p.ln1(), arch),
            p.attn(),
            layer,
            pass);
    x = tf.math.add(x, attn.a());
    Operand<TFloat32> normed = norm(tf.withSubScope("ln_2"), x, p.ln2(), arch);
    Ops mlp = tf.withSubScope("mlp");
    Operand<TFloat32> aux = null;
    Operand<TFloat32> m;
    if (arch.moe()) {
      MoeOut out = moe(mlp, normed, p.mlp(), arch);
      m = out.y();
      aux = out.aux();
    } else {
      m = ffn(mlp, normed, p.mlp(), arch, pass.product());
    }
    m = dropout(tf, m, pass.dropout(), site(layer, 2));
    return new BlockOut(tf.math.add(x, m), attn.present(), aux);
  }

  /**
   * What a pass through the network is built with besides its weights: the model's shape, what it
   * remembers of earlier positions (null: nothing), how products are made, the positions of its
   * tokens ([1, T], or [B, T] when the rows of a cache hold different lengths), rotary angles (null
   * with learned positions) and dropout (null outside training).
   */
  public record Pass(
      HParams hp,
      Memory memory,
      Product product,
      Operand<TInt32> positions,
      Rotary rotary,
      Dropout dropout) {

    /** A pass over {@code tokens} [B, T], after what {@code memory} holds. */
    public static Pass of(
        Ops tf, HParams hp, Operand<TInt32> tokens, Memory memory, Product product, Dropout d) {
      Operand<TInt32> start = memory == null ? tf.constant(0) : memory.length();
      // start + range(t), not range(start, start + t): its length stays static when t is
      Operand<TInt32> positions =
          tf.math.add(
              tf.reshape(start, tf.constant(new int[] {-1, 1})),
              tf.range(tf.constant(0), dim(tf, tokens, 1), tf.constant(1)));
      Rotary r =
          hp.arch().position() == Architecture.Position.ROPE
              ? Gpt2.rotary(tf, positions, hp.headSize(), hp.arch().ropeTheta())
              : null;
      return new Pass(hp, memory, product, positions, r, d);
    }
  }

  /**
   * What {@link #gpt2} gives: {@code h} the final hidden states after ln_f [B, T, C], {@code
   * logits} [B, T, n_vocab], {@code present} the new keys and values [B, n_layer, 2, Hkv, T, D],
   * and {@code aux} the mean over layers of a mixture's load-balancing loss (null when dense). A
   * graph run computes only what it fetches.
   */
  public record Forward(
      Operand<TFloat32> h,
      Operand<TFloat32> logits,
      Operand<TFloat32> present,
      Operand<TFloat32> aux) {}

  // tokens [B, T] int32 -> Forward; memory (or null) holds earlier positions; openai/gpt-2 model()
  public static Forward gpt2(
      Ops tf, HParams hp, Operand<TInt32> tokens, Params p, Memory memory, Product product) {
    Ops model = tf.withSubScope("model");
    Pass pass = Pass.of(model, hp, tokens, memory, product, null);
    Operand<TFloat32> h = embeddings(model, tokens, p, pass);
    List<Operand<TFloat32>> presents = new ArrayList<>();
    List<Operand<TFloat32>> aux = new ArrayList<>();
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      BlockOut out =
          transformerBlock(model.withSubScope("h" + layer), h, p.h().get(layer), layer, pass);
      h = out.x();
      presents.add(out.present());
      if (out.aux() != null) {
        aux.add(out.aux());
      }
    }
    h = norm(model.withSubScope("ln_f"), h, p.lnF(), hp.arch());
    return new Forward(
        h,
        lmHead(model, h, p.wte(), product),
        model.stack(presents, Stack.axis(1L)),
        meanOf(model, aux));
  }

  /** The mean of scalars {@code xs}, or null when there are none. */
  public static Operand<TFloat32> meanOf(Ops tf, List<Operand<TFloat32>> xs) {
    return xs.isEmpty() ? null : tf.math.div(tf.math.addN(xs), f(tf, xs.size()));
  }

  // tokens [B, T] at pass.positions -> [B, T, C]: token plus position embeddings (token
  // embeddings alone with rotary positions)
  public static Operand<TFloat32> embeddings(Ops tf, Operand<TInt32> tokens, Params p, Pass pass) {
    Operand<TFloat32> x = DType.float32(tf, tf.gather(p.wte(), tokens, tf.constant(0)));
    if (p.wpe() != null) {
      x = tf.math.add(x, DType.float32(tf, tf.gather(p.wpe(), pass.positions(), tf.constant(0))));
    }
    return dropout(tf, x, pass.dropout(), 0);
  }

  // [.., C] -> [.., n_vocab]; the output head is tied to the token embedding wte
  public static Operand<TFloat32> lmHead(
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

  // x + b, or x when there is no bias
  private static Operand<TFloat32> plusBias(Ops tf, Operand<TFloat32> x, Operand<TFloat32> b) {
    return b == null ? x : tf.math.add(x, b);
  }

  private static Operand<TFloat32> f(Ops tf, double value) {
    return tf.constant((float) value);
  }
}
