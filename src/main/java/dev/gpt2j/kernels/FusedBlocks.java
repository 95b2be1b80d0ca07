package dev.gpt2j.kernels;

import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.Params;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A decoding step's blocks as one op of ours ({@code Gpt2Blocks}, {@code Gpt2BlocksBf16}): openai's
 * block() (ln_1, attention over what the cache holds and the new position, c_proj, ln_2, c_fc,
 * GELU, c_proj, both residuals) once per layer, for up to {@value NativeKernels#MAX_NATIVE_ROWS}
 * rows of one new position each, where the picoGPT-style graph runs a hundred small TF ops per
 * block, one after another on TF's executor (docs/benchmarks.md, "One op per block", "One op for
 * every block"). The op writes each row's new key and value into the cache variables, in place, as
 * TF's ScatterNdUpdate does (it takes them as ref inputs): a step runs no write op per layer.
 */
public final class FusedBlocks {
  private FusedBlocks() {}

  /**
   * A KV cache as the op reads and writes it: each layer's keys and values [R, Hkv, S, D] for every
   * row the cache has (the variables themselves), the first of the pass's B rows (a scalar), and
   * how many positions each of them holds [B], fewer than S.
   */
  public record CacheRows(
      List<Variable<TFloat32>> k,
      List<Variable<TFloat32>> v,
      Operand<TInt32> first,
      Operand<TInt32> length) {}

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

  // x [B, C] -> the last block's output [B, C]; the blocks' weights as `product` holds them for a
  // step, and each row's new keys and values written into the cache at its length
  public static Operand<TFloat32> apply(
      Ops tf,
      Operand<TFloat32> x,
      CacheRows cache,
      List<Params.Block> blocks,
      NativeKernels.StepProduct product) {
    String type =
        blocks.get(0).attn().cAttn().w().type() == TBfloat16.class
            ? "Gpt2BlocksBf16"
            : "Gpt2Blocks";
    Operation op =
        tf.scope()
            .opBuilder(type, type)
            .addInput(x.asOutput())
            .addInputList(outputs(cache.k()))
            .addInputList(outputs(cache.v()))
            .addInput(cache.first().asOutput())
            .addInput(cache.length().asOutput())
            .addInputList(each(tf, blocks, (block, p) -> vectors(block, p, product)))
            .addInputList(weights(tf, blocks, p -> p.attn().cAttn(), product))
            .addInputList(weights(tf, blocks, p -> p.attn().cProj(), product))
            .addInputList(weights(tf, blocks, p -> p.mlp().cFc(), product))
            .addInputList(weights(tf, blocks, p -> p.mlp().cProj(), product))
            .build();
    return op.output(0);
  }

  // the norms' gains and biases and the biases, in the op's order, as one input
  private static Operand<TFloat32> vectors(
      Ops tf, Params.Block p, NativeKernels.StepProduct product) {
    return product.packed(
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
  }

  private static Output<?>[] weights(
      Ops tf,
      List<Params.Block> blocks,
      Function<Params.Block, Params.Linear> linear,
      NativeKernels.StepProduct product) {
    return each(tf, blocks, (block, p) -> product.blockWeight(block, linear.apply(p).w()));
  }

  // f's operand for each block, built in the block's scope (h0, h1, ...)
  private static Output<?>[] each(
      Ops tf, List<Params.Block> blocks, BiFunction<Ops, Params.Block, Operand<?>> f) {
    return IntStream.range(0, blocks.size())
        .mapToObj(i -> f.apply(tf.withSubScope("h" + i), blocks.get(i)).asOutput())
        .toArray(Output<?>[]::new);
  }

  private static Output<?>[] outputs(List<? extends Operand<?>> operands) {
    return operands.stream().map(Operand::asOutput).toArray(Output<?>[]::new);
  }
}
