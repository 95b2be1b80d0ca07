package dev.gpt2j.util;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.OptionalLong;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * HTTP downloads that resume and never leave a half file under the final name: bytes go to
 * {@code .NAME.part} beside the target (resumed with a Range request), whose size is checked
 * against the server's before it is renamed into place.
 */
public final class Download {
  private static final HttpClient HTTP = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(15))
      .followRedirects(HttpClient.Redirect.NORMAL)
      .build();

  /** Why a download failed, in one line naming the URL. */
  public static final class DownloadException extends RuntimeException {
    public DownloadException(String message) {
      super(message);
    }
  }

  public enum Outcome { DOWNLOADED, RESUMED, ALREADY_COMPLETE }

  private Download() {}

  /** Fetches {@code url} to {@code target}, skipping a complete file and resuming a partial one. */
  public static Outcome fetch(URI url, Path target) {
    try {
      long expected = remoteSize(url);
      if (Files.isRegularFile(target) && Files.size(target) == expected) {
        return Outcome.ALREADY_COMPLETE;
      }
      Path part = target.resolveSibling("." + target.getFileName() + ".part");
      long have = Files.isRegularFile(part) ? Files.size(part) : 0;
      if (have > expected) {
        Files.delete(part);
        have = 0;
      }
      HttpRequest.Builder request = HttpRequest.newBuilder(url).GET();
      if (have > 0) {
        request.header("Range", "bytes=" + have + "-");
      }
      HttpResponse<InputStream> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
      boolean resumed = response.statusCode() == 206;
      if (response.statusCode() != 200 && !resumed) {
        response.body().close();
        throw new DownloadException(url + ": HTTP " + response.statusCode());
      }
      if (!resumed) {
        have = 0;
      }
      copy(response.body(), part, have, expected, target.getFileName().toString());
      long got = Files.size(part);
      if (got != expected) {
        throw new DownloadException(url + ": received " + got + " of " + expected
            + " bytes; run again to resume");
      }
      AtomicFiles.move(part, target);
      return resumed ? Outcome.RESUMED : Outcome.DOWNLOADED;
    } catch (ConnectException | HttpConnectTimeoutException e) {
      throw new DownloadException(url + ": cannot connect (offline?)");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DownloadException(url + ": interrupted");
    } catch (IOException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new DownloadException(url + ": " + why + (e instanceof java.net.UnknownHostException
          ? " (unknown host: offline?)" : ""));
    }
  }

  private static long remoteSize(URI url) throws IOException, InterruptedException {
    HttpResponse<Void> head = HTTP.send(HttpRequest.newBuilder(url)
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    if (head.statusCode() != 200) {
      throw new DownloadException(url + ": HTTP " + head.statusCode());
    }
    OptionalLong length = head.headers().firstValueAsLong("Content-Length");
    if (length.isEmpty()) {
      throw new DownloadException(url + ": the server gives no Content-Length to check against");
    }
    return length.getAsLong();
  }

  private static void copy(InputStream body, Path part, long have, long expected, String label)
      throws IOException {
    try (InputStream in = body;
         OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE,
             have > 0 ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
             StandardOpenOption.WRITE);
         ProgressBar bar = new ProgressBarBuilder().setTaskName(label).setInitialMax(expected)
             .setUnit("MB", 1 << 20).showSpeed().startsFrom(have, Duration.ZERO)
             .setConsumer(new ConsoleProgressBarConsumer(System.err)).build()) {
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        out.write(buffer, 0, n);
        bar.stepBy(n);
      }
    } catch (IOException e) {
      if (Files.isRegularFile(part) && Files.size(part) < expected) {
        throw new DownloadException("received " + Files.size(part) + " of " + expected
            + " bytes before the connection broke (" + e.getMessage() + "); run again to resume");
      }
      throw new UncheckedIOException(e);
    }
  }
}
