package dev.gpt2j.model;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/** OpenAI's released GPT-2 sizes, with the shapes from their hparams.json. */
public enum ModelSize {
  GPT2_124M("124M", 12, 12, 768),
  GPT2_355M("355M", 24, 16, 1024),
  GPT2_774M("774M", 36, 20, 1280),
  GPT2_1558M("1558M", 48, 25, 1600);

  public final String label;
  public final HParams hparams;

  ModelSize(String label, int nLayer, int nHead, int nEmbd) {
    this.label = label;
    this.hparams = new HParams(HParams.GPT2_VOCAB, 1024, nEmbd, nHead, nLayer);
  }

  public static ModelSize of(String label) {
    return Arrays.stream(values())
        .filter(s -> s.label.equalsIgnoreCase(label))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "unknown model size '" + label + "', expected one of " + labels()));
  }

  /** The size a directory is named after (checkpoints/774M), if any. */
  public static Optional<ModelSize> named(Path dir) {
    String name = dir.getFileName() == null ? "" : dir.getFileName().toString();
    return Arrays.stream(values()).filter(s -> s.label.equals(name)).findFirst();
  }

  public static String labels() {
    return Arrays.stream(values()).map(s -> s.label).collect(Collectors.joining(", "));
  }
}
