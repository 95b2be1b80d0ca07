package dev.gpt2j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.TinyModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code --dtype auto} picks from the processor's flags and the kernels loaded. */
@Tag("process")
class AutoDTypeTest {
  // the flags of the three kinds of processor met so far, cut to those that matter here
  static final Set<String> ZEN3 = Set.of("avx2", "fma");
  static final Set<String> ZEN4 = Set.of("avx2", "fma", "avx512f", "avx512_bf16");
  static final Set<String> AMX = Set.of("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16");

  @Test
  void theFirstProcessorsFlagsAreRead() {
    String cpuinfo =
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma  avx512_bf16\n\n"
            + "processor\t: 1\nflags\t\t: fpu sse\n";
    assertEquals(Set.of("fpu", "avx2", "fma", "avx512_bf16"), CpuFlags.parse(cpuinfo));
    assertEquals(Set.of(), CpuFlags.parse("processor\t: 0\n"));
  }

  @Test
  void trainingTakesBfloat16OnlyWhereTheProcessorComputesIt() {
    assertEquals(DType.FLOAT32, AutoDType.forTraining(ZEN3).dtype());
    assertEquals(DType.BFLOAT16, AutoDType.forTraining(ZEN4).dtype());
    assertEquals(DType.BFLOAT16, AutoDType.forTraining(AMX).dtype());
    assertTrue(AutoDType.forTraining(AMX).line().startsWith("dtype auto: bfloat16 ("));
  }

  @Test
  void wholeSequencesTakeBfloat16OnlyWithAmx() {
    assertEquals(DType.FLOAT32, AutoDType.forWholeSequences(ZEN3).dtype());
    assertEquals(DType.FLOAT32, AutoDType.forWholeSequences(ZEN4).dtype());
    assertEquals(DType.BFLOAT16, AutoDType.forWholeSequences(AMX).dtype());
  }

  // sample's default, in processes of their own: bfloat16 on the plain C loops (forced), float32
  // without the library; each says so once loaded and samples what that dtype given alone samples
  @Test
  void sampleSaysWhatAutoPickedAndSamplesWithIt(@TempDir Path tmp) throws Exception {
    assumeTrue(NativeKernels.loaded(), "native kernels not built (no C compiler): skipped");
    Path model = tmp.resolve("m");
    TinyModels.writeRandom(model, new HParams(50257, 32, 16, 2, 2), 3);
    List<String> argv =
        List.of(
            "sample",
            "--model-dir",
            model.toString(),
            "--prompt",
            "Hi",
            "--greedy",
            "--length",
            "8");
    assertSampledAs(
        "GPT2J_ISA", "generic", argv, "bfloat16 (the native decoding kernels (generic)");
    assertSampledAs("GPT2J_NATIVE", "0", argv, "float32 (the native decoding kernels are not");
  }

  private static void assertSampledAs(String env, String value, List<String> argv, String said)
      throws Exception {
    ProcessBuilder pb = new ProcessBuilder(CliProcess.command(argv));
    pb.environment().put(env, value);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), err);
    // other lines (loading progress on a slow machine) may come before or after it
    List<String> auto = err.lines().filter(l -> l.startsWith("dtype auto: ")).toList();
    assertEquals(1, auto.size(), env + "=" + value + ": " + err);
    assertTrue(auto.get(0).startsWith("dtype auto: " + said), env + "=" + value + ": " + err);
    List<String> given = new ArrayList<>(argv);
    given.addAll(List.of("--dtype", said.substring(0, said.indexOf(' '))));
    CliRunner.Outcome alone = CliRunner.run(given.toArray(String[]::new));
    assertEquals(0, alone.code(), alone.err());
    assertEquals(alone.out(), out, env + "=" + value);
  }
}
