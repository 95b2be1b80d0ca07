package dev.gpt2j.model;

/**
 * The rule by which a training graph widens each dense MLP's hidden layer with units of zero
 * weight: when a hidden row is a multiple of 4 KB (n_embd 768: 3072 floats), the products with K =
 * that width run far slower here, from cache-set aliasing (docs/benchmarks.md, "Training"). The
 * memory plan counts the widened copies; the training graph makes them.
 */
public final class MlpPadding {
  private MlpPadding() {}

  /** Units of zero weight added to each MLP's hidden layer when {@link #applies} holds. */
  public static final int UNITS = 8;

  public static boolean applies(HParams hp) {
    return !hp.arch().moe() && (long) hp.mlpHidden() * Float.BYTES % 4096 == 0;
  }
}
