package dev.gpt2j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MetricTest {
  // Wilson's interval for none or all correct has the bound 0 (1) exactly: it printed 5.55e-17
  @Test
  void wilsonsIntervalEndsExactlyAtZeroAndOne() {
    assertEquals(0.0, Metric.accuracy("acc", 0, 7).lo());
    assertEquals(1.0, Metric.accuracy("acc", 7, 7).hi());
    // and elsewhere it is Wilson's: 3 of 10 gives [0.1078, 0.6032] (Wilson 1927, z = 1.96)
    Metric m = Metric.accuracy("acc", 3, 10);
    assertEquals(0.1078, m.lo(), 1e-4);
    assertEquals(0.6032, m.hi(), 1e-4);
  }
}
