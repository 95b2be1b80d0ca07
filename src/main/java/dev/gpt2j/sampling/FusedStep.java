package dev.gpt2j.sampling;

import dev.gpt2j.kernels.FusedBlocks;
import dev.gpt2j.kernels.NativeKernels;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.Params;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A decoding step's logits with its blocks one op of ours ({@link FusedBlocks}), for the
 * architectures it computes, in place of the picoGPT-style graph's step ({@link Gpt2#gpt2}): the
 * embeddings, ln_f and the head are the graph's own functions. The tests hold it to the graph's
 * whole-sequence logits, as they hold the kernels.
 */
final class FusedStep {
  private FusedStep() {}

  // tokens [B, 1] -> logits [B, n_vocab]; the blocks op reads what the cache holds and writes the
  // new keys and values after each row's
  static Operand<TFloat32> logits(
      Ops tf,
      HParams hp,
      Operand<TInt32> tokens,
      Params params,
      KvCache cache,
      NativeKernels.StepProduct product) {
    Ops model = tf.withSubScope("model");
    Gpt2.Pass pass = Gpt2.Pass.of(model, hp, tokens, cache, product, null);
    Operand<TFloat32> x =
        model.reshape(
            Gpt2.embeddings(model, tokens, params, pass),
            model.constant(new long[] {-1, hp.nEmbd()}));
    Operand<TFloat32> y = FusedBlocks.apply(model, x, cache.held(), params.h(), product);
    Operand<TFloat32> h = Gpt2.norm(model.withSubScope("ln_f"), y, params.lnF(), hp.arch());
    return Gpt2.lmHead(model, h, params.wte(), product);
  }
}
