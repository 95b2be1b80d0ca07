package dev.gpt2j.data;

import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Progress;
import dev.gpt2j.util.TextFiles;
import dev.gpt2j.util.Ticker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;

/**
 * Text to train.bin / val.bin. One file is split as nanoGPT's shakespeare prepare.py does: the
 * first (1 - val_fraction) of its characters train, the rest validate, each encoded on its own. A
 * directory's files (sorted by name) are encoded one by one and joined with end-of-text tokens, and
 * the token sequence is split at the same fraction. With characters for tokens (nanoGPT's
 * shakespeare_char), the vocabulary is the text's distinct characters, written as chars.json.
 */
public final class Prepare {
  public static final String TRAIN = "train.bin";
  public static final String VAL = "val.bin";

  public record Counts(long files, long trainTokens, long valTokens) {}

  private Prepare() {}

  /** GPT-2's BPE, or one token per character. */
  public enum Tokens {
    GPT2,
    CHAR
  }

  public static Counts prepare(Path input, Path outDir, double valFraction, Tokens tokens) {
    if (!(valFraction > 0 && valFraction < 1)) {
      throw new IllegalArgumentException(
          "--val-fraction must be in (0, 1): training needs "
              + "validation tokens, got "
              + valFraction);
    }
    List<Path> files = inputs(input);
    if (files.stream().mapToLong(Prepare::size).sum() == 0) { // before any progress is shown
      throw tooFewTokens(input, 0, 0);
    }
    int[] train;
    int[] val;
    CharTokenizer chars = null;
    if (tokens == Tokens.CHAR) {
      if (!Files.isRegularFile(input)) {
        throw new IllegalArgumentException(
            "--input: " + input + ": --tokenizer char reads one text file, not a directory");
      }
      String text = read(input);
      chars = CharTokenizer.of(text);
      if (chars.size() > TokenFile.IDS) {
        throw new IllegalArgumentException(
            String.format(
                "--input: %s has too many distinct characters (%,d; at most %,d fit the uint16"
                    + " ids of train.bin); nothing was written",
                input, chars.size(), TokenFile.IDS));
      }
      int[] all = chars.encode(text);
      int cut = (int) (all.length * (1 - valFraction)); // characters, as len(data) in Python
      train = Arrays.copyOfRange(all, 0, cut);
      val = Arrays.copyOfRange(all, cut, all.length);
    } else if (Files.isRegularFile(input)) { // one text, one tokenizer call: nothing to count
      String text = read(input);
      int cut = (int) (text.length() * (1 - valFraction));
      try (Ticker ticker = Ticker.after(2, System.err, "tokenizing " + input)) {
        train = Gpt2Tokenizer.encode(text.substring(0, cut));
        val = Gpt2Tokenizer.encode(text.substring(cut));
      }
    } else {
      files.forEach(f -> TextFiles.requireUtf8(f, "--input")); // a bad file before any progress
      long bytes = files.stream().mapToLong(Prepare::size).sum();
      List<int[]> parts = new ArrayList<>();
      try (ProgressBar bar = Progress.bar("tokenize", bytes).setUnit(" MB", 1 << 20).build()) {
        for (Path f : files) {
          if (!parts.isEmpty()) {
            parts.add(new int[] {Gpt2Tokenizer.END_OF_TEXT});
          }
          parts.add(Gpt2Tokenizer.encode(read(f)));
          bar.stepBy(size(f));
        }
      }
      int[] all = parts.stream().flatMapToInt(Arrays::stream).toArray();
      int cut = (int) (all.length * (1 - valFraction));
      train = Arrays.copyOfRange(all, 0, cut);
      val = Arrays.copyOfRange(all, cut, all.length);
    }
    if (train.length == 0 || val.length == 0) {
      throw tooFewTokens(input, train.length, val.length);
    }
    try {
      Files.createDirectories(outDir);
    } catch (IOException e) {
      throw new UncheckedIOException(outDir + ": cannot create: " + e.getMessage(), e);
    }
    TokenFile.write(outDir.resolve(TRAIN), train);
    TokenFile.write(outDir.resolve(VAL), val);
    if (chars != null) {
      chars.write(outDir);
    } else {
      AtomicFiles.deleteQuietly(outDir.resolve(CharTokenizer.FILE_NAME)); // the ids are GPT-2's
    }
    return new Counts(files.size(), train.length, val.length);
  }

  private static IllegalArgumentException tooFewTokens(Path input, int train, int val) {
    return new IllegalArgumentException(
        "--input: "
            + input
            + " gives "
            + train
            + " train and "
            + val
            + " val tokens; both need some (more text, or another --val-fraction); "
            + "nothing was written");
  }

  private static long size(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static List<Path> inputs(Path input) {
    if (Files.isRegularFile(input)) {
      return List.of(input);
    }
    if (!Files.isDirectory(input)) {
      throw new IllegalArgumentException("--input: " + input + " not found");
    }
    try (Stream<Path> s = Files.walk(input)) {
      List<Path> files = s.filter(Files::isRegularFile).sorted().toList();
      if (files.isEmpty()) {
        throw new IllegalArgumentException("--input: " + input + " has no files");
      }
      return files;
    } catch (IOException e) {
      throw new UncheckedIOException(input + ": cannot list: " + e.getMessage(), e);
    }
  }

  private static String read(Path file) {
    return TextFiles.readUtf8(file, "--input");
  }
}
