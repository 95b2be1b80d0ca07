package dev.gpt2j.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RowDecoderTest {
  private static final double TOLERANCE = 1e-4;

  /** A row's whole sequence so far: its prompt, then the tokens it was fed. */
  private record Row(String name, List<Integer> tokens) {}

  // rows join into free slots and leave (the last row moving into the freed slot) between steps,
  // the cache growing for a row that needs more positions and shrinking when it leaves; at every
  // step each row's logits equal the logits of its whole sequence run without a cache, with
  // learned positions and with rotary positions and grouped-query attention
  @Test
  void rowsJoiningAndLeavingGiveEachRowItsOwnSequencesLogits(@TempDir Path tmp) {
    HParams learned = new HParams(50257, 160, 16, 2, 2);
    HParams rope =
        new HParams(
            50257,
            160,
            16,
            2,
            2,
            Architecture.fromText(Map.of("position", "rope", "n_kv_head", "1", "norm", "rmsnorm")));
    for (HParams hp : List.of(learned, rope)) {
      Path dir = tmp.resolve(hp.arch().position().toString());
      TinyModels.writeRandom(dir, hp, 8);
      try (Gpt2Model model = Gpt2Model.load(dir)) {
        RowDecoder<Row> d = model.rowDecoder(3);
        join(d, "a", 8, 464, 2068, 7586, 11, 318);
        steps(model, d, 2);
        join(d, "b", 8, 40);
        join(d, "c", 100, 7, 8, 9, 10, 11, 12, 13, 14, 15); // needs 108 positions: the cache grows
        assertEquals(0, d.free());
        assertThrows(IllegalStateException.class, () -> join(d, "x", 8, 1));
        steps(model, d, 2);
        d.leave(0); // a leaves: c, the last row, takes slot 0
        assertEquals(List.of("c", "b"), d.rows().stream().map(Row::name).toList());
        steps(model, d, 1);
        join(d, "d", 8, 1101, 257, 3);
        steps(model, d, 2);
        d.leave(2); // the last row leaves: nothing moves
        d.leave(0); // c leaves: the cache shrinks back
        assertEquals(List.of("b"), d.rows().stream().map(Row::name).toList());
        steps(model, d, 2);
        d.step(); // b's eighth new token: it joined for 8
        assertThrows(IllegalStateException.class, () -> d.feed(0, 1));
      }
    }
  }

  private static void join(RowDecoder<Row> d, String name, int newTokens, int... prompt) {
    d.join(
        new Row(name, new ArrayList<>(Arrays.stream(prompt).boxed().toList())), prompt, newTokens);
  }

  // n steps of every row, each compared with its own sequence's logits and fed its argmax
  private static void steps(Gpt2Model model, RowDecoder<Row> d, int n) {
    for (int s = 0; s < n; s++) {
      float[][] logits = d.step();
      for (int i = 0; i < d.rows().size(); i++) {
        Row row = d.rows().get(i);
        int[] seq = row.tokens().stream().mapToInt(Integer::intValue).toArray();
        float[] want = model.logits(new int[][] {seq})[0][seq.length - 1];
        double worst = 0;
        for (int v = 0; v < want.length; v++) {
          worst = Math.max(worst, Math.abs(logits[i][v] - want[v]) / (1 + Math.abs(want[v])));
        }
        assertTrue(worst <= TOLERANCE, row.name() + " at " + seq.length + ": " + worst);
        int next = LogitsSampler.argmax(logits[i]);
        row.tokens().add(next);
        d.feed(i, next);
      }
    }
  }
}
