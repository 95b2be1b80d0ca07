package dev.gpt2j.kernels;

import dev.gpt2j.model.DType;
import java.util.Set;

/**
 * What {@code --dtype auto} picks on this machine for one kind of work, and why: bfloat16 where it
 * measured faster than float32 for that work on this kind of processor (docs/benchmarks.md), or
 * where the processor computes it natively, float32 elsewhere.
 *
 * @param why the reason, in words a user reads on the command's first line
 */
public record AutoDType(DType dtype, String why) {

  /** The word that asks for it, in place of a dtype's label. */
  public static final String LABEL = "auto";

  /** What an option that takes {@link #LABEL} accepts, for its messages. */
  public static final String CHOICES = LABEL + ", float32 or bfloat16";

  /**
   * Decoding (sample, serve): one position per row, through our matrix-vector kernels, which read
   * half the bytes in bfloat16 with every instruction set they are built for. Without them a step
   * goes through TF's bfloat16 MatMul, which was no faster than its float32 one.
   */
  public static AutoDType forDecoding() {
    return NativeKernels.instructionSet()
        .map(
            isa ->
                new AutoDType(
                    DType.BFLOAT16,
                    "the native decoding kernels (" + isa + ") read half the bytes"))
        .orElse(
            new AutoDType(
                DType.FLOAT32,
                "the native decoding kernels are not loaded, and TF's bfloat16 MatMul is no faster"));
  }

  /**
   * Whole sequences at once (score, eval): TF's MatMul, whose bfloat16 products were slower than
   * float32 ones on AVX-512 processors and twice as fast with AMX tiles.
   */
  public static AutoDType forWholeSequences(Set<String> cpuFlags) {
    return cpuFlags.contains("amx_bf16")
        ? new AutoDType(DType.BFLOAT16, "AMX multiplies bfloat16 matrices natively")
        : new AutoDType(
            DType.FLOAT32, "no AMX: TF's bfloat16 products over whole sequences are slower");
  }

  /** Training: products in bfloat16 only where the processor computes bfloat16 natively. */
  public static AutoDType forTraining(Set<String> cpuFlags) {
    for (String flag : new String[] {"amx_bf16", "avx512_bf16"}) {
      if (cpuFlags.contains(flag)) {
        return new AutoDType(
            DType.BFLOAT16, "the processor computes bfloat16 natively (" + flag + ")");
      }
    }
    return new AutoDType(
        DType.FLOAT32, "the processor has neither avx512_bf16 nor amx_bf16 to compute bfloat16");
  }

  /** What a command says first when its dtype is auto. */
  public String line() {
    return "dtype auto: " + dtype.label + " (" + why + ")";
  }
}
