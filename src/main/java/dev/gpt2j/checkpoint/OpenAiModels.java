package dev.gpt2j.checkpoint;

import dev.gpt2j.model.ModelSize;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Download;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** OpenAI's released GPT-2 checkpoints, fetched as openai/gpt-2's download_model.py does. */
public final class OpenAiModels {
  /** Where download_model.py fetches from: BASE/models/SIZE/FILE. */
  public static final String BASE_URL = "https://openaipublic.blob.core.windows.net/gpt-2";

  /** download_model.py's seven files (the .meta graph is fetched too, for openai's own scripts). */
  public static final List<String> FILES =
      List.of(
          "checkpoint",
          "encoder.json",
          "hparams.json",
          "model.ckpt.data-00000-of-00001",
          "model.ckpt.index",
          "model.ckpt.meta",
          "vocab.bpe");

  /** What happened to one file. */
  public interface Listener {
    void fileDone(String name, Download.Outcome outcome);
  }

  private OpenAiModels() {}

  /**
   * Downloads {@code size} into {@code parent/SIZE}; returns that directory. A failed download
   * keeps its partial files for the next try, and leaves no directory it made and did not use.
   */
  public static Path download(
      ModelSize size, Path parent, String baseUrl, Duration timeout, Listener listener) {
    URI given = Download.httpUrl(baseUrl, "--base-url");
    URI base =
        baseUrl.endsWith("/") ? given : URI.create(baseUrl + "/"); // resolve() keeps its path
    Path dir = parent.resolve(size.label);
    boolean created = !Files.exists(dir);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot create: " + e.getMessage(), e);
    }
    try {
      for (String name : FILES) {
        URI url = base.resolve("models/" + size.label + "/" + name);
        listener.fileDone(name, Download.fetch(url, dir.resolve(name), timeout));
      }
      return dir;
    } catch (Download.DownloadException e) {
      if (created) {
        AtomicFiles.deleteIfEmpty(dir);
      }
      throw new Download.DownloadException(
          e.getMessage()
              + ". Without network access, place "
              + "OpenAI's files ("
              + String.join(", ", FILES)
              + ") in "
              + dir
              + " by hand");
    }
  }
}
