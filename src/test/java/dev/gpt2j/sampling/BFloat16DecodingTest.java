package dev.gpt2j.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.CheckpointIndex;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.kernels.NativeKernels;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.Bfloat16Rounding;
import dev.gpt2j.testing.DecodingSteps;
import dev.gpt2j.testing.ReferenceGpt2;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.DataType;

/**
 * Models held in bfloat16: the weights are float32 checkpoints rounded to nearest even, decoding
 * with the native kernels computes float32 arithmetic on those rounded weights (against the float64
 * reference), and scoring stays within a stated distance of float32.
 */
class BFloat16DecodingTest {
  private static final HParams HP = new HParams(97, 24, 32, 4, 2);

  @Test
  void weightMatricesAreHeldInBfloat16AndCheckpointsStayFloat32(@TempDir Path tmp) {
    Map<String, float[]> w = TinyModels.writeRandom(tmp.resolve("m"), HP, 11);
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"), DType.BFLOAT16)) {
      // held as bfloat16 if and only if what is held is the rounded value (the random values of
      // a float32 tensor are almost never bfloat16 numbers)
      model
          .weights()
          .forEach(
              (name, held) -> {
                float[] given = w.get(name);
                float[] expected = isMatrix(name) ? Bfloat16Rounding.round(given) : given;
                assertArrayEquals(expected, held, name);
              });
      model.save(tmp.resolve("saved"));
    }
    Path saved = ModelDir.latestCheckpoint(tmp.resolve("saved"));
    CheckpointIndex.read(saved)
        .entries()
        .values()
        .forEach(e -> assertEquals(DataType.DT_FLOAT, e.dtype(), e.name()));
    try (Gpt2Model again = Gpt2Model.load(tmp.resolve("saved"))) {
      assertArrayEquals(
          Bfloat16Rounding.round(w.get("model/wte")),
          again.weights().get("model/wte"),
          "saved as float32, the rounded values exactly");
    }
  }

  // The native kernels widen the bfloat16 weights and keep x in float32: the float64 reference
  // on the rounded weights is the same computation, up to float32 rounding
  @Test
  void decodingStepsMatchFloat64OnTheRoundedWeights(@TempDir Path tmp) {
    assumeTrue(NativeKernels.loaded(), "native kernels not built: decoding uses TF's MatMul");
    Map<String, float[]> w = TinyModels.writeRandom(tmp.resolve("m"), HP, 12);
    Map<String, float[]> rounded = new LinkedHashMap<>();
    w.forEach((name, v) -> rounded.put(name, isMatrix(name) ? Bfloat16Rounding.round(v) : v));
    int[] tokens = new Random(5).ints(12, 0, HP.nVocab()).toArray();
    double[][] expected = new ReferenceGpt2(HP, rounded).logits(tokens);
    float[][] actual;
    try (DecodingSteps steps = new DecodingSteps(tmp.resolve("m"), DType.BFLOAT16)) {
      actual = steps.logits(tokens);
    }
    double worst = 0;
    for (int t = 0; t < tokens.length; t++) {
      for (int v = 0; v < HP.nVocab(); v++) {
        worst = Math.max(worst, Math.abs(expected[t][v] - actual[t][v]));
      }
    }
    System.out.printf("bfloat16 decoding vs float64 on rounded weights: worst %.2e%n", worst);
    assertTrue(worst <= 1e-4, "largest logit difference " + worst);
  }

  // Weights from OpenAI's initialisers (a network like a real one, not one of large random
  // weights); scoring rounds activations to bfloat16 as well, in TF's MatMul
  @Test
  void scoringInBfloat16StaysWithinTheStatedBoundOfFloat32(@TempDir Path tmp) {
    HParams hp = new HParams(512, 64, 128, 4, 4);
    try (Gpt2Model fresh = Gpt2Model.fresh(hp, 7)) {
      fresh.save(tmp.resolve("m"));
    }
    int[] tokens = new Random(9).ints(64, 0, hp.nVocab()).toArray();
    double[] fp32;
    double[] bf16;
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"))) {
      fp32 = model.score(tokens);
    }
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("m"), DType.BFLOAT16)) {
      bf16 = model.score(tokens);
    }
    double sum = 0;
    double worst = 0;
    for (int i = 0; i < fp32.length; i++) {
      double d = Math.abs(fp32[i] - bf16[i]);
      sum += d;
      worst = Math.max(worst, d);
    }
    System.out.printf(
        "score, bfloat16 vs float32: mean |d logprob| %.2e, max %.2e%n", sum / fp32.length, worst);
    assertTrue(worst <= BOUND, "largest logprob difference " + worst + " > " + BOUND);
  }

  /** The bound README states for scoring in bfloat16, in nats per token. */
  static final double BOUND = 0.01;

  private static boolean isMatrix(String name) {
    return name.endsWith("/w") || name.equals("model/wte") || name.equals("model/wpe");
  }
}
