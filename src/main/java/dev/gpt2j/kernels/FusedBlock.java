package dev.gpt2j.kernels;

import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.Params;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * One block of a decoding step as one op of ours ({@code Gpt2Block}, {@code Gpt2BlockBf16}):
 * openai's block() (ln_1, attention over what the cache holds and the new position, c_proj, ln_2,
 * c_fc, GELU, c_proj, both residuals) for up to {@value NativeKernels#MAX_NATIVE_ROWS} rows of one
 * new position each, where the picoGPT-style graph runs a hundred small TF ops, one after another
 * on TF's executor (docs/benchmarks.md, "One op per block"). The op reads the cache and does not
 * write it: the caller writes the new keys and values after it.
 */
public final class FusedBlock {
  private FusedBlock() {}

  /**
   * A layer of a KV cache as the op reads it: keys and values [R, Hkv, S, D] of every row the cache
   * has, the first of the pass's B rows (a scalar), and how many positions each of them holds [B].
   */
  public record CacheRows(
      Operand<TFloat32> k, Operand<TFloat32> v, Operand<TInt32> first, Operand<TInt32> length) {}

  /** A block's output [B, C], and its new position's key and value [B, Hkv, 1, D]. */
  public record Out(Operand<TFloat32> y, Operand<TFloat32> k, Operand<TFloat32> v) {}

  /**
   * Whether the op computes a block of {@code arch}: GPT-2's (layer norms, GELU, learned positions,
   * biases, a dense MLP; any number of key/value heads), with the library loaded.
   */
  public static boolean computes(Architecture arch) {
    return NativeKernels.loaded()
        && arch.norm() == Architecture.Norm.LAYERNORM
        && arch.mlp() == Architecture.Mlp.GELU
        && arch.position() == Architecture.Position.LEARNED
        && arch.bias()
        && !arch.moe();
  }

  // x [B, C] -> Out; the block's weights as `product` holds them for a step
  public static Out apply(
      Ops tf,
      Operand<TFloat32> x,
      CacheRows cache,
      Params.Block p,
      NativeKernels.StepProduct product) {
    String type = p.attn().cAttn().w().type() == TBfloat16.class ? "Gpt2BlockBf16" : "Gpt2Block";
    // the norms' gains and biases and the biases, in the op's order, as one input
    Operand<TFloat32> vectors =
        product.packed(
            tf,
            List.of(
                p.ln1().g(),
                p.ln1().b(),
                p.attn().cAttn().b(),
                p.attn().cProj().b(),
                p.ln2().g(),
                p.ln2().b(),
                p.mlp().cFc().b(),
                p.mlp().cProj().b()));
    OperationBuilder op =
        tf.scope()
            .opBuilder(type, type)
            .addInput(x.asOutput())
            .addInput(cache.k().asOutput())
            .addInput(cache.v().asOutput())
            .addInput(cache.first().asOutput())
            .addInput(cache.length().asOutput())
            .addInput(vectors.asOutput());
    for (Params.Linear l :
        List.of(p.attn().cAttn(), p.attn().cProj(), p.mlp().cFc(), p.mlp().cProj())) {
      op.addInput(product.blockWeight(tf, l.w()).asOutput());
    }
    Operation built = op.build();
    return new Out(built.output(0), built.output(1), built.output(2));
  }
}
