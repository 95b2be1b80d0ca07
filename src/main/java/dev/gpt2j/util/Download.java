package dev.gpt2j.util;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;

/**
 * HTTP downloads that resume and never leave a half file under the final name: bytes go to {@code
 * .NAME.part} beside the target (resumed with a Range request), whose size is checked against the
 * server's before it is renamed into place. A server that stops answering, while connecting or
 * mid-file, fails the download after {@code timeout} instead of hanging.
 */
public final class Download {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /** Why a download failed, in one line naming the URL. */
  public static final class DownloadException extends RuntimeException {
    public DownloadException(String message) {
      super(message);
    }
  }

  public enum Outcome {
    DOWNLOADED,
    RESUMED,
    ALREADY_COMPLETE
  }

  private Download() {}

  /**
   * {@code text} as an http(s) URL; an IllegalArgumentException naming {@code option} otherwise.
   */
  public static URI httpUrl(String text, String option) {
    try {
      URI url = new URI(text);
      if (("http".equals(url.getScheme()) || "https".equals(url.getScheme()))
          && url.getHost() != null) {
        return url;
      }
    } catch (java.net.URISyntaxException e) {
      // the message below says what was expected
    }
    throw new IllegalArgumentException(
        option + ": '" + text + "' is not an http:// or https:// URL");
  }

  /** Fetches {@code url} to {@code target}, skipping a complete file and resuming a partial one. */
  public static Outcome fetch(URI url, Path target, Duration timeout) {
    try {
      long expected = remoteSize(url, timeout);
      if (Files.isRegularFile(target) && Files.size(target) == expected) {
        return Outcome.ALREADY_COMPLETE;
      }
      Path part = target.resolveSibling("." + target.getFileName() + ".part");
      long have = Files.isRegularFile(part) ? Files.size(part) : 0;
      if (have > expected) {
        Files.delete(part);
        have = 0;
      }
      HttpURLConnection get = open(url, "GET", timeout);
      if (have > 0) {
        get.setRequestProperty("Range", "bytes=" + have + "-");
      }
      int status = get.getResponseCode();
      boolean resumed = status == 206;
      if (status != 200 && !resumed) {
        get.disconnect();
        throw new DownloadException(url + ": HTTP " + status);
      }
      copy(
          get.getInputStream(),
          part,
          resumed ? have : 0,
          expected,
          target.getFileName().toString());
      long got = Files.size(part);
      if (got != expected) {
        throw new DownloadException(
            url + ": received " + got + " of " + expected + " bytes; run again to resume");
      }
      AtomicFiles.move(part, target);
      return resumed ? Outcome.RESUMED : Outcome.DOWNLOADED;
    } catch (ConnectException e) {
      throw new DownloadException(url + ": cannot connect (offline?)");
    } catch (UnknownHostException e) {
      throw new DownloadException(url + ": unknown host (offline?)");
    } catch (SocketTimeoutException e) {
      throw new DownloadException(
          url + ": no answer within " + timeout.toSeconds() + " s; run again to resume");
    } catch (IOException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new DownloadException(url + ": " + why);
    }
  }

  // connect and read time-outs: a server that accepts and then says nothing cannot hang us
  private static HttpURLConnection open(URI url, String method, Duration timeout)
      throws IOException {
    HttpURLConnection c = (HttpURLConnection) url.toURL().openConnection();
    c.setRequestMethod(method);
    c.setConnectTimeout((int) timeout.toMillis());
    c.setReadTimeout((int) timeout.toMillis());
    c.setInstanceFollowRedirects(true);
    return c;
  }

  private static long remoteSize(URI url, Duration timeout) throws IOException {
    HttpURLConnection head = open(url, "HEAD", timeout);
    try {
      if (head.getResponseCode() != 200) {
        throw new DownloadException(url + ": HTTP " + head.getResponseCode());
      }
      long length = head.getContentLengthLong();
      if (length < 0) {
        throw new DownloadException(url + ": the server gives no Content-Length to check against");
      }
      return length;
    } finally {
      head.disconnect();
    }
  }

  private static void copy(InputStream body, Path part, long have, long expected, String label)
      throws IOException {
    try (InputStream in = body;
        OutputStream out =
            Files.newOutputStream(
                part,
                StandardOpenOption.CREATE,
                have > 0 ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
        // a file of less than a megabyte arrives before a bar could say anything useful
        ProgressBar bar =
            expected < 1 << 20
                ? null
                : Progress.bar(label, expected)
                    .setUnit("MB", 1 << 20)
                    .startsFrom(have, Duration.ZERO)
                    .build()) {
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        out.write(buffer, 0, n);
        if (bar != null) {
          bar.stepBy(n);
        }
      }
    } catch (SocketTimeoutException e) {
      throw e;
    } catch (IOException e) {
      if (Files.isRegularFile(part) && Files.size(part) < expected) {
        throw new DownloadException(
            "received "
                + Files.size(part)
                + " of "
                + expected
                + " bytes before the connection broke ("
                + e.getMessage()
                + "); run again to resume");
      }
      throw new UncheckedIOException(e);
    }
  }
}
