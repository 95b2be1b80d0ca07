package dev.gpt2j.eval;

import dev.gpt2j.sampling.ContinuationScorer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Runs a task: its examples in batches of up to {@code batch}, each batch in one run of the model.
 * A run's prefixes must have one length, so examples are sorted by prefix length (longest first:
 * the run that needs the most memory comes first) and a batch holds examples of one length; with
 * thousands of examples over a few hundred lengths most batches are full. Results come back in the
 * examples' own order.
 */
public final class Evaluator {
  /** Hears how far a run is: examples done, and the figures so far. */
  public interface Listener {
    void progress(int done, List<Metric> soFar);
  }

  private Evaluator() {}

  static <E, R> Report run(
      Task<E, R> task,
      ContinuationScorer scorer,
      int batch,
      Map<String, Object> extra,
      Listener listener) {
    long start = System.nanoTime();
    List<E> examples = task.examples();
    List<R> results = new ArrayList<>(Collections.nCopies(examples.size(), null));
    List<R> done = new ArrayList<>();
    for (List<Integer> ids : batches(task, batch)) {
      int[][] prefixes = new int[ids.size()][];
      int[][][] continuations = new int[ids.size()][][];
      for (int k = 0; k < ids.size(); k++) {
        prefixes[k] = task.prefix(examples.get(ids.get(k)));
        continuations[k] = task.continuations(examples.get(ids.get(k)));
      }
      ContinuationScorer.Scores scores = scorer.score(prefixes, continuations);
      int first = 0;
      for (int k = 0; k < ids.size(); k++) {
        R r = task.result(examples.get(ids.get(k)), scores, first);
        first += continuations[k].length;
        results.set(ids.get(k), r);
        done.add(r);
      }
      listener.progress(done.size(), task.metrics(done));
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Report(
        task.name(),
        task.unit(),
        examples.size(),
        seconds,
        task.metrics(results),
        extra,
        results.stream().map(task::json).toList());
  }

  // example indices, in batches of at most `batch` that share a prefix length
  static <E> List<List<Integer>> batches(Task<E, ?> task, int batch) {
    List<E> examples = task.examples();
    int[] prefix = new int[examples.size()]; // each example's lengths, taken once
    int[] continuation = new int[examples.size()];
    for (int i = 0; i < prefix.length; i++) {
      prefix[i] = task.prefix(examples.get(i)).length;
      continuation[i] = longest(task.continuations(examples.get(i)));
    }
    Integer[] order =
        IntStream.range(0, examples.size())
            .boxed()
            .sorted(
                Comparator.comparingInt((Integer i) -> -prefix[i])
                    .thenComparingInt(i -> -continuation[i]))
            .toArray(Integer[]::new);
    List<List<Integer>> batches = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    for (Integer i : order) {
      if (!current.isEmpty() && (current.size() == batch || prefix[current.get(0)] != prefix[i])) {
        batches.add(current);
        current = new ArrayList<>();
      }
      current.add(i);
    }
    batches.add(current);
    return batches;
  }

  private static int longest(int[][] rows) {
    return Arrays.stream(rows).mapToInt(r -> r.length).max().orElse(0);
  }
}
