package dev.gpt2j.testing;

import dev.gpt2j.data.Prepare;
import dev.gpt2j.data.TokenFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Prepared token files for training tests. */
public final class TinyData {
  private TinyData() {}

  /**
   * train.bin (4,000 tokens) and val.bin (800) in {@code dir}: a repeating pattern with noise,
   * learnable, so losses fall.
   */
  public static Path write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Random r = new Random(1);
    int[] train = new int[4000];
    int[] val = new int[800];
    for (int i = 0; i < train.length; i++) {
      train[i] = r.nextInt(10) == 0 ? r.nextInt(50257) : (i * 7) % 97;
    }
    for (int i = 0; i < val.length; i++) {
      val[i] = (i * 7) % 97;
    }
    TokenFile.write(dir.resolve(Prepare.TRAIN), train);
    TokenFile.write(dir.resolve(Prepare.VAL), val);
    return dir;
  }
}
