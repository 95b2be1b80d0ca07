package dev.gpt2j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.LogitsSampler;
import dev.gpt2j.sampling.RowDecoder;
import dev.gpt2j.testing.Bfloat16Rounding;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The native kernels on whichever loops this process runs (a JVM started with {@code GPT2J_ISA}
 * runs the ones it names): products against float64, and greedy decoding through the KV cache
 * against the whole-sequence graph on TF's MatMul. {@code main} exits 0 when all hold.
 */
public final class KernelCheck {
  private static final double TOLERANCE = 1e-4;
  private static final int STEPS = 64;
  private static final HParams HP = new HParams(97, STEPS + 2, 32, 2, 2);

  private KernelCheck() {}

  /** args: the instruction set expected, and a directory to write a model in. */
  public static void main(String[] args) {
    try {
      assertEquals(args[0], NativeKernels.instructionSet().orElse("not loaded"));
      products();
      decoding(Files.createDirectories(Path.of(args[1])));
      System.exit(0);
    } catch (Throwable e) {
      e.printStackTrace();
      System.exit(1);
    }
  }

  static void products() {
    int[][] shapes = {
      {1, 768, 2304}, {1, 13, 5}, {3, 7, 37}, {8, 130, 1}, {2, 1, 9}, {16, 64, 100}
    };
    for (int[] s : shapes) {
      for (boolean bf16 : new boolean[] {false, true}) {
        for (boolean transposed : new boolean[] {false, true}) {
          NativeKernelsTest.assertProductMatchesFloat64(s[0], s[1], s[2], transposed, bf16);
        }
      }
    }
  }

  /**
   * 64 steps of 1 row, and of 8 rows side by side, in float32 and in bfloat16, on weights rounded
   * to bfloat16 (so both dtypes hold the same values): every step's logits within 1e-4 of the whole
   * sequence's on TF's MatMul in float32, and the same greedy tokens. Prompts of one token: every
   * position goes through the step's kernels.
   */
  static void decoding(Path tmp) {
    Path dir = tmp.resolve("rounded");
    Map<String, float[]> weights = TinyModels.random(HP, 5);
    weights.replaceAll((name, w) -> Bfloat16Rounding.round(w));
    TinyModels.write(dir, HP, weights);
    try (Gpt2Model reference = Gpt2Model.load(dir)) {
      for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
        try (Gpt2Model model = Gpt2Model.load(dir, dtype)) {
          for (int rows : new int[] {1, 8}) {
            RowDecoder<List<Integer>> d = model.rowDecoder(rows);
            for (int r = 0; r < rows; r++) {
              int first = 3 + 11 * r;
              d.join(new ArrayList<>(List.of(first)), new int[] {first}, STEPS);
            }
            List<float[][]> stepLogits = new ArrayList<>(); // [step][row][vocab]
            for (int step = 0; step < STEPS; step++) {
              float[][] logits = d.step();
              stepLogits.add(new float[rows][]);
              for (int r = 0; r < rows; r++) {
                stepLogits.get(step)[r] = logits[r].clone();
                int next = LogitsSampler.argmax(logits[r]);
                d.rows().get(r).add(next);
                if (step < STEPS - 1) {
                  d.feed(r, next);
                }
              }
            }
            for (int r = 0; r < rows; r++) { // each row's whole sequence in one pass
              int[] seq = d.rows().get(r).stream().mapToInt(Integer::intValue).toArray();
              float[][] want = reference.logits(new int[][] {seq})[0];
              for (int step = 0; step < STEPS; step++) {
                float[] got = stepLogits.get(step)[r];
                double worst = 0;
                for (int v = 0; v < got.length; v++) {
                  double w = want[step][v];
                  worst = Math.max(worst, Math.abs(got[v] - w) / (1 + Math.abs(w)));
                }
                String where = dtype.label + ", " + rows + " rows, row " + r + ", step " + step;
                assertTrue(worst <= TOLERANCE, where + ": " + worst);
                assertEquals(LogitsSampler.argmax(want[step]), seq[step + 1], where);
              }
            }
          }
        }
      }
    }
  }
}
