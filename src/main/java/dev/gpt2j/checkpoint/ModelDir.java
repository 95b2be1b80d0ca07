package dev.gpt2j.checkpoint;

import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.OpenAiVocabulary;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.TextFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * OpenAI's model directory: {@code checkpoint}, {@code hparams.json}, {@code model.ckpt.index},
 * {@code model.ckpt.data-00000-of-00001}, {@code encoder.json}, {@code vocab.bpe}.
 */
public final class ModelDir {
  public static final String CHECKPOINT_FILE = "checkpoint";
  public static final String DEFAULT_PREFIX = "model.ckpt";

  /** OpenAI's BPE files, which openai/gpt-2's sample.py loads from the model directory. */
  public static final String ENCODER_JSON = "encoder.json";

  public static final String VOCAB_BPE = "vocab.bpe";

  private static final Pattern MODEL_PATH =
      Pattern.compile(
          "^model_checkpoint_path:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"\\s*$", Pattern.MULTILINE);

  private ModelDir() {}

  public static HParams hparams(Path dir) {
    requireDirectory(dir);
    return readHParams(dir.resolve(HParams.FILE_NAME));
  }

  /** OpenAI's hparams.json at {@code file}; errors name the file and what is wrong with it. */
  public static HParams readHParams(Path file) {
    String text = readText(file);
    try {
      return HParams.fromJson(text);
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(file + ": " + e.getMessage());
    }
  }

  /**
   * The checkpoint prefix named by {@code dir/checkpoint}, resolved like TF's {@code
   * tf.train.latest_checkpoint}: relative paths against {@code dir}, and an absolute path that no
   * longer exists (a moved directory) by its file name in {@code dir}.
   */
  public static Path latestCheckpoint(Path dir) {
    requireDirectory(dir);
    Path file = dir.resolve(CHECKPOINT_FILE);
    if (!Files.exists(file)) {
      throw new CheckpointException(
          file
              + ": file not found (expected TF's 'checkpoint' file "
              + "naming model_checkpoint_path)");
    }
    String text = readText(file);
    Matcher m = MODEL_PATH.matcher(text);
    if (!m.find()) {
      throw new CheckpointException(file + ": no model_checkpoint_path line");
    }
    Path named = Path.of(m.group(1).replace("\\\"", "\"").replace("\\\\", "\\"));
    Path prefix = named.isAbsolute() ? named : dir.resolve(named);
    if (named.isAbsolute() && !Files.exists(CheckpointIndex.indexFile(prefix))) {
      prefix = dir.resolve(named.getFileName());
    }
    return prefix;
  }

  /** Atomically points {@code dir/checkpoint} at the prefix {@code prefixName} inside dir. */
  public static void writeCheckpointFile(Path dir, String prefixName) {
    String quoted = "\"" + prefixName.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    AtomicFiles.writeString(
        dir.resolve(CHECKPOINT_FILE),
        "model_checkpoint_path: " + quoted + "\nall_model_checkpoint_paths: " + quoted + "\n");
  }

  /**
   * Writes a complete new model directory, or nothing: everything goes into a hidden staging
   * directory beside {@code dir}, which is renamed to {@code dir} only once complete.
   *
   * @param tokenizer whose files go beside the checkpoint
   * @param saveTensors writes the checkpoint at the prefix it is given
   */
  public static void writeNew(
      Path dir, HParams hp, Tokenizer tokenizer, Consumer<Path> saveTensors) {
    requireAbsentOrEmpty(dir);
    Path staging = AtomicFiles.tempSibling(dir);
    try {
      Files.createDirectories(staging);
      saveTensors.accept(staging.resolve(DEFAULT_PREFIX));
      Files.writeString(staging.resolve(HParams.FILE_NAME), hp.toJson());
      writeTokenizerFiles(staging, tokenizer);
      writeCheckpointFile(staging, DEFAULT_PREFIX);
      Files.deleteIfExists(dir); // an empty directory only; requireAbsentOrEmpty checked
      Files.move(staging, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot write model: " + e.getMessage(), e);
    } finally {
      AtomicFiles.deleteRecursively(staging);
    }
  }

  /**
   * Writes the files of {@code tokenizer} into {@code dir}, atomically, unless there: a character
   * vocabulary's chars.json, or OpenAI's encoder.json and vocab.bpe.
   */
  public static void writeTokenizerFiles(Path dir, Tokenizer tokenizer) {
    if (tokenizer instanceof CharTokenizer chars) {
      chars.write(dir);
      return;
    }
    if (!Files.exists(dir.resolve(ENCODER_JSON))) {
      AtomicFiles.write(dir.resolve(ENCODER_JSON), OpenAiVocabulary.encoderJson());
    }
    if (!Files.exists(dir.resolve(VOCAB_BPE))) {
      AtomicFiles.write(dir.resolve(VOCAB_BPE), OpenAiVocabulary.vocabBpe());
    }
  }

  private static String readText(Path file) {
    try {
      return TextFiles.readUtf8(file, null);
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(e.getMessage());
    }
  }

  private static void requireDirectory(Path dir) {
    if (Files.isRegularFile(dir)) {
      throw new CheckpointException(
          dir + ": is a file; expected a model directory (OpenAI's layout)");
    }
    if (!Files.isDirectory(dir)) {
      throw new CheckpointException(dir + ": model directory not found");
    }
  }

  /** Refuses a {@code dir} that exists and holds anything: a new model never overwrites one. */
  public static void requireAbsentOrEmpty(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> children = Files.list(dir)) {
      if (children.findAny().isPresent()) {
        throw new CheckpointException(
            dir
                + ": already exists and is not empty; "
                + "choose a new directory (nothing was overwritten)");
      }
    } catch (IOException e) {
      throw new CheckpointException(dir + ": not a directory: " + e.getMessage(), e);
    }
  }
}
