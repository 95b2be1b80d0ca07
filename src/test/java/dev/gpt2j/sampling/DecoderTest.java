package dev.gpt2j.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.kernels.NativeKernels;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.DecodingSteps;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DecoderTest {
  // wide enough vocabulary that token 50256 (end of text) exists
  static final HParams HP = new HParams(50257, 24, 16, 2, 2);
  static Path dir;
  static Gpt2Model model;

  @BeforeAll
  static void load(@TempDir Path tmp) {
    dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, HP, 21);
    model = Gpt2Model.load(dir);
  }

  @AfterAll
  static void close() {
    model.close();
  }

  private static int[][] generate(int[] prompt, int rows, SampleOptions o, int length) {
    return generate(model, prompt, rows, o, length);
  }

  // rows samples of length tokens in one batch, through the public API
  private static int[][] generate(
      Gpt2Model model, int[] prompt, int rows, SampleOptions o, int length) {
    SampleOptions batch = o.toBuilder().length(length).samples(rows, rows).build();
    return model.generate(prompt, batch, (r, t) -> {}).stream()
        .map(Gpt2Model.Generation::tokens)
        .toArray(int[][]::new);
  }

  @Test
  void greedyIsTheArgmaxOfFullSequenceLogitsAtEveryStep() {
    int[] prompt = {464, 2068, 7586};
    int[] out = generate(prompt, 1, SampleOptions.greedy(10), 10)[0];
    assertArrayEquals(fullSequenceGreedy(model, prompt, 10), out);
  }

  // more rows than the native kernels take run the step built on TF's MatMul: the same argmax
  @Test
  void moreRowsThanTheKernelsTakeDecodeTheSame() {
    int[] prompt = {464, 2068, 7586};
    int[] alone = fullSequenceGreedy(model, prompt, 6);
    for (int[] row :
        generate(prompt, NativeKernels.MAX_NATIVE_ROWS + 1, SampleOptions.greedy(6), 6)) {
      assertArrayEquals(alone, row);
    }
  }

  // the cache holds each row's own length: rows after prompts of 1 to 9 tokens, decoded side by
  // side, each give the argmax of its own whole sequence's logits at every step, with learned and
  // with rotary positions (and grouped-query attention)
  @Test
  void promptsOfDifferentLengthsDecodeSideBySideAsEachAlone(@TempDir Path tmp) {
    int[][] prompts = {
      {464}, {464, 2068, 7586, 11, 318}, {40, 1101, 257}, {7, 8, 9, 10, 11, 12, 13, 14, 15}
    };
    HParams rope =
        new HParams(
            50257,
            24,
            16,
            2,
            2,
            Architecture.fromText(Map.of("position", "rope", "n_kv_head", "1", "norm", "rmsnorm")));
    TinyModels.writeRandom(tmp.resolve("rope"), rope, 4);
    try (Gpt2Model ropeModel = Gpt2Model.load(tmp.resolve("rope"))) {
      for (Gpt2Model m : List.of(model, ropeModel)) {
        List<Gpt2Model.Generation> side =
            m.generateEach(prompts, SampleOptions.greedy(8), 4, (sample, token) -> {});
        for (int r = 0; r < prompts.length; r++) {
          assertArrayEquals(
              fullSequenceGreedy(m, prompts[r], 8), side.get(r).tokens(), "prompt " + r);
        }
      }
    }
  }

  // n tokens, each the argmax of the whole sequence's logits so far (no cache)
  private static int[] fullSequenceGreedy(Gpt2Model m, int[] prompt, int n) {
    List<Integer> seq = new ArrayList<>(Arrays.stream(prompt).boxed().toList());
    int[] out = new int[n];
    for (int step = 0; step < n; step++) {
      float[][] logits = m.logits(new int[][] {seq.stream().mapToInt(i -> i).toArray()})[0];
      float[] last = logits[seq.size() - 1];
      int argmax = 0;
      for (int v = 1; v < last.length; v++) {
        if (last[v] > last[argmax]) {
          argmax = v;
        }
      }
      out[step] = argmax;
      seq.add(argmax);
    }
    return out;
  }

  @Test
  void aBatchRunsItsRowsIndependentlyAndSeedsReproduce() {
    int[] prompt = {40, 1101};
    SampleOptions o = SampleOptions.topK(12, 0, 99).toBuilder().samples(3, 3).build();
    int[][] batch = generate(prompt, 3, o, 12);
    assertArrayEquals(
        batch[0],
        generate(prompt, 1, SampleOptions.topK(12, 0, 99), 12)[0],
        "row 0 of a batch draws as a batch of one");
    assertFalse(Arrays.equals(batch[0], batch[1]), "rows draw independently");
    assertArrayEquals(batch[2], generate(prompt, 3, o, 12)[2], "same seed, same samples");
    assertFalse(
        Arrays.equals(batch[0], generate(prompt, 1, SampleOptions.topK(12, 0, 100), 12)[0]),
        "another seed");
  }

  // top-p 1 takes the plain draw; a nucleus holding all but 1e-7 of the probability draws the
  // same tokens from the same random numbers (it only drops tokens no draw here reaches), and a
  // nucleus of one token is greedy
  @Test
  void topPOfOneIsOffAndTinyTopPIsGreedy() {
    int[] prompt = {40, 1101};
    SampleOptions.Builder plain = SampleOptions.builder().length(10).topK(0).seed(3);
    int[] unfiltered = generate(prompt, 1, plain.topP(1.0).build(), 10)[0];
    assertEquals(10, unfiltered.length);
    assertArrayEquals(unfiltered, generate(prompt, 1, plain.topP(0.9999999).build(), 10)[0]);
    assertFalse(
        Arrays.equals(unfiltered, generate(prompt, 1, plain.seed(4).topP(1.0).build(), 10)[0]),
        "the draws depend on the seed");
    assertArrayEquals(
        generate(prompt, 1, SampleOptions.greedy(10), 10)[0],
        generate(prompt, 1, plain.topP(1e-9).build(), 10)[0]);
  }

  // the decoding step (KV cache, preallocated and masked; the native matrix-vector kernels when
  // built) against the whole sequence through the network at once, with TF's MatMul
  @Test
  void cachedStepLogitsEqualFullSequenceLogits() {
    int[] tokens = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 383, 2068};
    float[][] full = model.logits(new int[][] {tokens})[0];
    float[][] cached;
    try (DecodingSteps steps = new DecodingSteps(dir, DType.FLOAT32)) {
      cached = steps.logits(tokens);
    }
    double worst = 0;
    for (int i = 0; i < tokens.length; i++) {
      for (int v = 0; v < full[i].length; v++) {
        worst = Math.max(worst, Math.abs(full[i][v] - cached[i][v]));
      }
    }
    assertTrue(
        worst <= 1e-4,
        "largest logit difference "
            + worst
            + " (native kernels "
            + (NativeKernels.loaded() ? "on" : "not built")
            + ")");
  }

  @Test
  void promptPlusLengthBeyondContextIsRefusedUnlessSliding() {
    int[] prompt = new int[20];
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> generate(prompt, 1, SampleOptions.greedy(5), 5));
    assertEquals(
        "prompt (20 tokens) + --length (5) exceeds the model's context of 24 tokens; "
            + "shorten them or pass --sliding-window",
        e.getMessage());
    SampleOptions sliding =
        SampleOptions.builder().length(40).greedy(true).topK(0).slidingWindow(true).build();
    int[] out = generate(prompt, 1, sliding, 40)[0];
    assertEquals(40, out.length);
  }

  @Test
  void stopAtEndOfTextEndsEachRowThere(@TempDir Path tmp) {
    // ln_f with gain 0 makes every final hidden state its bias u; wte[50256] = 10 u then gives
    // end-of-text the largest logit everywhere, so greedy decoding emits it at once.
    java.util.Map<String, float[]> w = TinyModels.random(HP, 8);
    float[] u = w.get("model/ln_f/b");
    Arrays.fill(w.get("model/ln_f/g"), 0f);
    for (int j = 0; j < u.length; j++) {
      w.get("model/wte")[50256 * HP.nEmbd() + j] = 10 * u[j];
    }
    TinyModels.write(tmp.resolve("eot"), HP, w);
    try (Gpt2Model eot = Gpt2Model.load(tmp.resolve("eot"))) {
      SampleOptions go = SampleOptions.greedy(6).toBuilder().samples(2, 2).build();
      SampleOptions stop = go.toBuilder().stopAtEndOfText(true).build();
      int[] prompt = {1, 2, 3};
      int[][] stopped = generate(eot, prompt, 2, stop, 6);
      int[][] going = generate(eot, prompt, 2, go, 6);
      assertArrayEquals(new int[0], stopped[0]);
      assertArrayEquals(new int[0], stopped[1]);
      int[] allEot = new int[6];
      Arrays.fill(allEot, 50256);
      assertArrayEquals(allEot, going[1]);
    }
  }
}
