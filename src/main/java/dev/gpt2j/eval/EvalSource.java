package dev.gpt2j.eval;

import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Download;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Where a task's data comes from: {@code file} fetched from the first of {@code urls} that answers
 * (resumable and size-checked as {@link Download}), its checksum checked, and, when {@code
 * zipEntry} is set, that entry taken out of the downloaded archive.
 */
public record EvalSource(String file, List<URI> urls, Checksum checksum, String zipEntry) {

  // the archive keeps the name it has on the server until its entry is taken out
  private String downloadName() {
    if (zipEntry == null) {
      return file;
    }
    String path = urls.get(0).getPath();
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /**
   * {@code dir/file}, downloaded first if it is not there. A download whose checksum is wrong is
   * deleted and refused, naming both digests.
   */
  public Path ensure(Path dir, Duration timeout) {
    Path target = dir.resolve(file);
    if (Files.isRegularFile(target)) {
      return target;
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(dir + ": cannot create: " + e.getMessage(), e);
    }
    Path downloaded = dir.resolve(downloadName());
    List<String> failures = new ArrayList<>();
    for (URI url : urls) {
      try {
        Download.fetch(url, downloaded, timeout);
        check(url, downloaded);
        if (zipEntry != null) {
          extract(downloaded, target);
          Files.delete(downloaded);
        }
        return target;
      } catch (Download.DownloadException e) {
        failures.add(e.getMessage());
      } catch (IOException e) {
        throw new UncheckedIOException(downloaded + ": " + e.getMessage(), e);
      }
    }
    throw new Download.DownloadException(
        String.join("; ", failures)
            + ". Without network access, place "
            + file
            + " in "
            + dir
            + " by hand, or pass --data FILE");
  }

  private void check(URI url, Path downloaded) {
    String got = checksum.of(downloaded);
    if (!checksum.hex().equalsIgnoreCase(got)) {
      AtomicFiles.deleteQuietly(downloaded);
      throw new Download.DownloadException(
          url
              + ": "
              + checksum.kind()
              + " is "
              + got
              + ", expected "
              + checksum.hex()
              + " (a changed or damaged copy; deleted)");
    }
  }

  private void extract(Path zip, Path target) throws IOException {
    try (ZipFile archive = new ZipFile(zip.toFile())) {
      ZipEntry entry = archive.getEntry(zipEntry);
      if (entry == null) {
        throw new Download.DownloadException(zip + ": has no " + zipEntry);
      }
      Path temp = AtomicFiles.tempSibling(target);
      try (InputStream in = archive.getInputStream(entry)) {
        Files.copy(in, temp);
      }
      AtomicFiles.move(temp, target);
    }
  }
}
