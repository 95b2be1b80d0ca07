package dev.gpt2j.sampling;

/**
 * How to sample, with openai/gpt-2 sample.py's semantics: logits / temperature, then top-k ({@code
 * 0} = off), then top-p ({@code 1} = off), then a categorical draw; {@code greedy} is argmax.
 *
 * @param length new tokens per sample; 0 means n_ctx / 2 (resolved by the model)
 * @param seed the same seed and options give the same samples
 * @param slidingWindow allow prompt + length beyond n_ctx by keeping the last n_ctx/2 tokens
 */
public record SampleOptions(
    int length,
    double temperature,
    int topK,
    double topP,
    boolean greedy,
    long seed,
    int nSamples,
    int batchSize,
    boolean stopAtEndOfText,
    boolean slidingWindow) {
  public static final double DEFAULT_TEMPERATURE = 1.0;

  /** openai/gpt-2's README recommends 40; its scripts default to 0 (off). */
  public static final int DEFAULT_TOP_K = 40;

  public static final double DEFAULT_TOP_P = 1.0;

  /** One sample, generated alone (as nsamples and batch_size in openai's sample.py). */
  public static final int DEFAULT_SAMPLES = 1;

  public SampleOptions {
    if (length < 0) {
      throw new IllegalArgumentException("--length must be >= 0 (0 = n_ctx/2), got " + length);
    }
    if (!greedy && !(temperature > 0)) {
      throw new IllegalArgumentException(
          "--temperature must be > 0 (or use --greedy), got " + temperature);
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
      throw new IllegalArgumentException(
          "--nsamples ("
              + nSamples
              + ") must be a multiple of --batch-size ("
              + batchSize
              + "), as in openai/gpt-2");
    }
  }

  /** Greedy decoding of {@code length} tokens, one sample. */
  public static SampleOptions greedy(int length) {
    return builder().length(length).greedy(true).topK(0).build();
  }

  /** openai/gpt-2's recommended sampling (top-k 40) of {@code length} tokens, one sample. */
  public static SampleOptions topK(int length, int k, long seed) {
    return builder().length(length).topK(k).seed(seed).build();
  }

  /** Starts from the defaults: one sample of n_ctx/2 tokens, temperature 1, top-k 40, top-p off. */
  public static Builder builder() {
    return new Builder();
  }

  /** These options, to change some of them. */
  public Builder toBuilder() {
    return builder()
        .length(length)
        .temperature(temperature)
        .topK(topK)
        .topP(topP)
        .greedy(greedy)
        .seed(seed)
        .samples(nSamples, batchSize)
        .stopAtEndOfText(stopAtEndOfText)
        .slidingWindow(slidingWindow);
  }

  /** New tokens per sample for a model with context {@code nCtx}: length, or n_ctx/2 when 0. */
  public int lengthFor(int nCtx) {
    return length == 0 ? nCtx / 2 : length;
  }

  /** Named setters over the defaults; {@link #build} checks them. */
  public static final class Builder {
    private int length;
    private double temperature = DEFAULT_TEMPERATURE;
    private int topK = DEFAULT_TOP_K;
    private double topP = DEFAULT_TOP_P;
    private boolean greedy;
    private long seed;
    private int nSamples = DEFAULT_SAMPLES;
    private int batchSize = DEFAULT_SAMPLES;
    private boolean stopAtEndOfText;
    private boolean slidingWindow;

    private Builder() {}

    public Builder length(int v) {
      length = v;
      return this;
    }

    public Builder temperature(double v) {
      temperature = v;
      return this;
    }

    public Builder topK(int v) {
      topK = v;
      return this;
    }

    public Builder topP(double v) {
      topP = v;
      return this;
    }

    public Builder greedy(boolean v) {
      greedy = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    /** {@code nSamples} in all, {@code batchSize} generated together (it divides nSamples). */
    public Builder samples(int nSamples, int batchSize) {
      this.nSamples = nSamples;
      this.batchSize = batchSize;
      return this;
    }

    public Builder stopAtEndOfText(boolean v) {
      stopAtEndOfText = v;
      return this;
    }

    public Builder slidingWindow(boolean v) {
      slidingWindow = v;
      return this;
    }

    public SampleOptions build() {
      return new SampleOptions(
          length,
          temperature,
          topK,
          topP,
          greedy,
          seed,
          nSamples,
          batchSize,
          stopAtEndOfText,
          slidingWindow);
    }
  }
}
