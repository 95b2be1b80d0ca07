package dev.gpt2j.eval;

import java.util.List;
import java.util.Map;

/** What an evaluation measured: its figures, and each example's result. */
public record Report(
    String task,
    String unit,
    int examples,
    double seconds,
    List<Metric> metrics,
    Map<String, Object> extra,
    List<Map<String, Object>> perExample) {

  public Metric metric(String name) {
    return metrics.stream()
        .filter(m -> m.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException(task + " has no metric " + name));
  }
}
