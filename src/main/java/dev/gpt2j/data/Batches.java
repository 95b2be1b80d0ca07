package dev.gpt2j.data;

import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Random training windows from a token file, as nanoGPT's get_batch: x = data[i : i+T], y =
 * data[i+1 : i+1+T] at uniformly random i. The offsets are a pure function of (seed, stream, step),
 * so a resumed run draws exactly the batches the uninterrupted run would.
 */
public final class Batches {
  public record Batch(int[][] x, int[][] y) {}

  private final char[] tokens;
  private final Path file;

  public Batches(Path file) {
    this.file = file;
    this.tokens = TokenFile.read(file);
  }

  public long size() {
    return tokens.length;
  }

  /** Checks that the file holds at least one window of {@code blockSize} tokens and its target. */
  public void requireWindows(int blockSize) {
    if (tokens.length <= blockSize) {
      throw new IllegalArgumentException(
          file
              + ": "
              + tokens.length
              + " tokens, need more than "
              + "block_size ("
              + blockSize
              + "); prepare more text or a larger --val-fraction");
    }
  }

  /**
   * Checks that every token id is below {@code nVocab}: an id past the model's vocabulary would be
   * clamped by XLA's gather (silently training on another token) or fail deep inside TF.
   */
  public void requireIdsBelow(int nVocab) {
    for (int i = 0; i < tokens.length; i++) {
      if (tokens[i] >= nVocab) {
        throw new IllegalArgumentException(
            file
                + ": token id "
                + (int) tokens[i]
                + " at position "
                + i
                + " is outside the model's vocabulary of "
                + nVocab
                + " (the data was prepared for another tokenizer: prepare it again)");
      }
    }
  }

  /** Batch number {@code step} of stream {@code stream} (e.g. micro-step or eval batch). */
  public Batch get(long seed, long stream, long step, int batchSize, int blockSize) {
    requireWindows(blockSize);
    SplittableRandom random = new SplittableRandom(mix(seed, stream, step));
    int[][] x = new int[batchSize][blockSize];
    int[][] y = new int[batchSize][blockSize];
    for (int b = 0; b < batchSize; b++) {
      int i = random.nextInt(tokens.length - blockSize);
      for (int t = 0; t < blockSize; t++) {
        x[b][t] = tokens[i + t];
        y[b][t] = tokens[i + t + 1];
      }
    }
    return new Batch(x, y);
  }

  private static long mix(long seed, long stream, long step) {
    long h = seed * 0x9E3779B97F4A7C15L + stream;
    h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + step;
    return h ^ (h >>> 29);
  }
}
