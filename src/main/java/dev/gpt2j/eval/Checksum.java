package dev.gpt2j.eval;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The digest a data file must have: a SHA-256 where its publisher (or a harness that checks it)
 * gives one, else git's blob id (SHA-1 of "blob SIZE\0" and the bytes), which is what GitHub
 * records for a file in a repository.
 */
public record Checksum(String kind, String hex) {
  public static Checksum sha256(String hex) {
    return new Checksum("sha256", hex);
  }

  public static Checksum gitBlob(String hex) {
    return new Checksum("git blob sha1", hex);
  }

  /** The digest of {@code file} computed this checksum's way. */
  public String of(Path file) {
    boolean git = !kind.equals("sha256");
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest digest = MessageDigest.getInstance(git ? "SHA-1" : "SHA-256");
      if (git) {
        digest.update(("blob " + Files.size(file) + "\0").getBytes(StandardCharsets.US_ASCII));
      }
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e); // every JVM has SHA-1 and SHA-256
    }
  }

  public boolean matches(Path file) {
    return hex.equalsIgnoreCase(of(file));
  }
}
