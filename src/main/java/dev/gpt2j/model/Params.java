package dev.gpt2j.model;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * The model's weights as a tree mirroring OpenAI's checkpoint ({@code model/h3/attn/c_attn/w},
 * ...). Leaves are graph operands (variable reads), so the math functions in {@link Gpt2} never
 * touch variables themselves. The matrices are float32 or bfloat16 ({@link DType}); norms and
 * biases are float32.
 */
public record Params(
    Operand<? extends TNumber> wte, Operand<? extends TNumber> wpe, List<Block> h, LayerNorm lnF) {

  /** {@code ln_1}, {@code ln_2}, {@code ln_f}: gain and bias, [n_embd] each. */
  public record LayerNorm(Operand<TFloat32> g, Operand<TFloat32> b) {}

  /** OpenAI's conv1d: w is [1, nx, nf] as stored, b is [nf]. */
  public record Linear(Operand<? extends TNumber> w, Operand<TFloat32> b) {}

  public record Attn(Linear cAttn, Linear cProj) {}

  public record Mlp(Linear cFc, Linear cProj) {}

  public record Block(LayerNorm ln1, Attn attn, LayerNorm ln2, Mlp mlp) {}
}
