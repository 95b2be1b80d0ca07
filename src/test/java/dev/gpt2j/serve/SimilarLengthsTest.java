package dev.gpt2j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;

/** The scheduler's grouping of joining rows into prefills, against groups worked out by hand. */
class SimilarLengthsTest {
  private static final ToIntFunction<Integer> LENGTH = Integer::intValue;

  @Test
  void promptsArePrefilledTogetherWhilePaddingAddsAtMostAQuarter() {
    // four 4s: 16 tokens, no padding. 5 after them: 5 x 5 = 25 padded <= 1.25 x 21 = 26.25, in.
    // 9: 9 x 6 = 54 > 1.25 x 30 = 37.5, a new group. 10 after 9: 20 <= 1.25 x 19 = 23.75, in.
    // 30: 30 x 3 = 90 > 1.25 x 49 = 61.25, a new group.
    assertEquals(
        List.of(List.of(4, 4, 4, 4, 5), List.of(9, 10), List.of(30)),
        Scheduler.similarLengths(List.of(4, 4, 4, 4, 5, 9, 10, 30), LENGTH));
    assertEquals(List.of(List.of(7)), Scheduler.similarLengths(List.of(7), LENGTH));
    assertEquals(List.of(), Scheduler.similarLengths(List.<Integer>of(), LENGTH));
    // 1 then 2: 4 > 1.25 x 3 = 3.75, apart; 2 and 2: together
    assertEquals(
        List.of(List.of(1), List.of(2, 2)), Scheduler.similarLengths(List.of(1, 2, 2), LENGTH));
  }
}
