package dev.gpt2j.sampling;

/**
 * How to sample, with openai/gpt-2 sample.py's semantics: logits / temperature, then top-k
 * ({@code 0} = off), then top-p ({@code 1} = off), then a categorical draw; {@code greedy} is argmax.
 *
 * @param length new tokens per sample; 0 means n_ctx / 2 (resolved by the model)
 * @param seed the same seed and options give the same samples
 * @param slidingWindow allow prompt + length beyond n_ctx by keeping the last n_ctx/2 tokens
 */
public record SampleOptions(int length, double temperature, int topK, double topP, boolean greedy,
                            long seed, int nSamples, int batchSize, boolean stopAtEndOfText,
                            boolean slidingWindow) {
  public static final double DEFAULT_TEMPERATURE = 1.0;
  /** openai/gpt-2's README recommends 40; its scripts default to 0 (off). */
  public static final int DEFAULT_TOP_K = 40;
  public static final double DEFAULT_TOP_P = 1.0;

  public SampleOptions {
    if (length < 0) {
      throw new IllegalArgumentException("--length must be >= 0 (0 = n_ctx/2), got " + length);
    }
    if (!greedy && !(temperature > 0)) {
      throw new IllegalArgumentException("--temperature must be > 0 (or use --greedy), got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("--top-k must be >= 0 (0 = off), got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("--top-p must be in (0, 1] (1 = off), got " + topP);
    }
    if (nSamples < 1) {
      throw new IllegalArgumentException("--nsamples must be >= 1, got " + nSamples);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
    }
    if (nSamples % batchSize != 0) {
      throw new IllegalArgumentException("--nsamples (" + nSamples
          + ") must be a multiple of --batch-size (" + batchSize + "), as in openai/gpt-2");
    }
  }

  /** Greedy decoding of {@code length} tokens, one sample. */
  public static SampleOptions greedy(int length) {
    return new SampleOptions(length, DEFAULT_TEMPERATURE, 0, 1.0, true, 0, 1, 1, false, false);
  }

  /** openai/gpt-2's recommended sampling (top-k 40) of {@code length} tokens, one sample. */
  public static SampleOptions topK(int length, int k, long seed) {
    return new SampleOptions(length, DEFAULT_TEMPERATURE, k, DEFAULT_TOP_P, false, seed, 1, 1, false, false);
  }

  /** New tokens per sample for a model with context {@code nCtx}: length, or n_ctx/2 when 0. */
  public int lengthFor(int nCtx) {
    return length == 0 ? nCtx / 2 : length;
  }

  public SampleOptions withBatch(int nSamples, int batchSize) {
    return new SampleOptions(length, temperature, topK, topP, greedy, seed, nSamples, batchSize,
        stopAtEndOfText, slidingWindow);
  }
}
