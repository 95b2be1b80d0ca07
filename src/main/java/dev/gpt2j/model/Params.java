package dev.gpt2j.model;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * The model's weights as a tree mirroring OpenAI's checkpoint ({@code model/h3/attn/c_attn/w},
 * ...). Leaves are graph operands (variable reads), so the math functions in {@link Gpt2} never
 * touch variables themselves. The matrices are float32 or bfloat16 ({@link DType}); norms and
 * biases are float32. A leaf a model's {@link Architecture} does not have is null: {@code wpe} with
 * rotary positions, every bias without biases, {@code cGate} and {@code router} unless the MLP has
 * them.
 */
public record Params(
    Operand<? extends TNumber> wte, Operand<? extends TNumber> wpe, List<Block> h, Norm lnF) {

  /** {@code ln_1}, {@code ln_2}, {@code ln_f}: gain and bias, [n_embd] each. */
  public record Norm(Operand<TFloat32> g, Operand<TFloat32> b) {}

  /**
   * OpenAI's conv1d: w is [1, nx, nf] as stored, b is [nf]; a mixture's experts are stacked on the
   * first axis, w [E, nx, nf] and b [E, nf].
   */
  public record Linear(Operand<? extends TNumber> w, Operand<TFloat32> b) {}

  public record Attn(Linear cAttn, Linear cProj) {}

  /** c_fc, then (SwiGLU) c_gate, then c_proj; router [1, n_embd, E] for a mixture of experts. */
  public record Mlp(Linear cFc, Linear cGate, Linear cProj, Operand<? extends TNumber> router) {}

  public record Block(Norm ln1, Attn attn, Norm ln2, Mlp mlp) {}
}
