package dev.gpt2j.eval;

import dev.gpt2j.sampling.ContinuationScorer;
import java.util.List;
import java.util.Map;

/**
 * One task over its examples: the prefix and continuations each example puts through the model (the
 * prefix once, each continuation after it), what the model's scores of the continuations make of
 * the example, and what the examples' results add up to.
 *
 * @param <E> an example, tokenized
 * @param <R> an example's result
 */
abstract class Task<E, R> {
  private final String name;
  private final String headline;
  private final List<E> examples;

  /**
   * A task called {@code name} over {@code examples}, whose {@code headline} figure is the one a
   * training run logs (the one of {@link #metrics} people quote).
   */
  Task(String name, String headline, List<E> examples) {
    this.name = name;
    this.headline = headline;
    this.examples = examples;
  }

  final String name() {
    return name;
  }

  final String headline() {
    return headline;
  }

  /** What an example is called in progress and reports. */
  String unit() {
    return "examples";
  }

  final List<E> examples() {
    return examples;
  }

  /** The tokens {@code example}'s continuations follow (at least one). */
  abstract int[] prefix(E example);

  /**
   * The continuations scored after the prefix; the same number for every example, each fitting
   * n_ctx after the prefix.
   */
  abstract int[][] continuations(E example);

  /** {@code example}'s result from its continuations' scores, which start at row {@code first}. */
  abstract R result(E example, ContinuationScorer.Scores scores, int first);

  /** The task's figures over {@code results} (those so far, while it runs). */
  abstract List<Metric> metrics(List<R> results);

  /** One line of {@code --per-example}. */
  abstract Map<String, Object> json(R result);
}
