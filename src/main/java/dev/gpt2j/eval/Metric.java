package dev.gpt2j.eval;

/** One figure of an evaluation with its 95% confidence interval ([lo, hi]; NaN when unknown). */
public record Metric(String name, double value, double lo, double hi) {
  private static final double Z = 1.959963984540054; // the normal's 97.5% quantile

  /**
   * An accuracy of {@code correct} out of {@code n}, with Wilson's score interval: unlike the
   * normal approximation it stays inside [0, 1] and is sound near 0 and 1 and for small n.
   */
  public static Metric accuracy(String name, long correct, long n) {
    double p = correct / (double) n;
    double z2 = Z * Z;
    double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    double half = Z * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
    // at 0 and at n the bound is exactly 0 (1): say so, not the rounding of centre - half
    return new Metric(name, p, correct == 0 ? 0 : centre - half, correct == n ? 1 : centre + half);
  }

  /**
   * {@code transform} of a mean estimated as {@code mean} with standard error {@code stderr}: the
   * interval is the normal one on the mean, carried through the (increasing) transform.
   */
  public static Metric ofMean(
      String name, double mean, double stderr, java.util.function.DoubleUnaryOperator transform) {
    return new Metric(
        name,
        transform.applyAsDouble(mean),
        transform.applyAsDouble(mean - Z * stderr),
        transform.applyAsDouble(mean + Z * stderr));
  }
}
