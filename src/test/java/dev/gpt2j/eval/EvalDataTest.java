package dev.gpt2j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.util.Download;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tasks' files: malformed rows refused by file, line and field; downloads checked. */
@Tag("process")
class EvalDataTest {
  static final CharTokenizer CHARS = CharTokenizer.of("abcdefgh ,.");
  @TempDir Path tmp;

  private String refusal(EvalTask task, String content) throws Exception {
    Path file = tmp.resolve(task.label + ".jsonl");
    Files.writeString(file, content);
    return assertThrows(
            EvalDataException.class, () -> Evaluation.read(task, file, "--data", CHARS, 16, 0, 8))
        .getMessage();
  }

  @Test
  void everyMalformedRowIsRefusedNamingTheFileLineAndField() throws Exception {
    String good = "{\"ctx\": \"a b\", \"endings\": [\"c\", \"d\", \"e\", \"f\"], \"label\": 2}\n";
    assertEquals(
        tmp.resolve("hellaswag.jsonl")
            + " line 2: field \"label\": expected an integer in [0, 4), got 4",
        refusal(EvalTask.HELLASWAG, good + good.replace("2}", "4}")));
    assertTrue(
        refusal(EvalTask.HELLASWAG, good + "\n" + good.replace("\"ctx\"", "\"context\""))
            .endsWith(" line 3: field \"ctx\": missing"));
    assertTrue(
        refusal(EvalTask.HELLASWAG, good.replace(", \"f\"]", "]"))
            .contains(" line 1: field \"endings\": expected an array of 4 strings"));
    assertTrue(refusal(EvalTask.HELLASWAG, "{\"ctx\": \"a\",\n").contains(" line 1: not JSON"));
    assertTrue(
        refusal(EvalTask.HELLASWAG, good.replace("\"a b\"", "\"a q\""))
            .contains(" line 1: field \"ctx\": character 'q'"));
    assertTrue(
        refusal(EvalTask.HELLASWAG, good.replace("\"a b\"", "\"\""))
            .contains(" line 1: field \"ctx\": empty"));
    assertTrue(
        refusal(EvalTask.HELLASWAG, good.replace("\"c\"", "\"" + "c".repeat(16) + "\""))
            .contains(
                " line 1: field \"endings\": 17 tokens leave no room for context in n_ctx=16"));
    assertTrue(
        refusal(EvalTask.LAMBADA, "{\"text\": \"a b\"}\n{\"text\": \"ab\"}\n")
            .endsWith(" line 2: field \"text\": no last word after a space to predict"));
    assertTrue(refusal(EvalTask.LAMBADA, "{\"text\": 3}\n").endsWith("expected a string, got 3"));
    assertTrue(refusal(EvalTask.LAMBADA, "\n\n").endsWith(": no rows"));
  }

  @Test
  void aDownloadIsCheckedResumedOnceAndTakenOutOfItsArchive() throws Exception {
    byte[] jsonl = "{\"text\": \"a b c\"}\n".getBytes(StandardCharsets.UTF_8);
    byte[] raw = "a b c d e f".getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream zip = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(zip)) {
      z.putNextEntry(new ZipEntry("wikitext-2-raw/wiki.test.raw"));
      z.write(raw);
      z.closeEntry();
    }
    AtomicInteger gets = new AtomicInteger();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    serve(server, "/lambada_test.jsonl", jsonl, gets);
    serve(server, "/wikitext-2-raw-v1.zip", zip.toByteArray(), gets);
    server.start();
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort();
      // the digests come from the JDK and from git itself, not from the code under test
      EvalSource lambada =
          new EvalSource(
              "lambada_test.jsonl",
              List.of(URI.create(base + "/lambada_test.jsonl")),
              Checksum.sha256(
                  HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(jsonl))),
              null);
      Path dir = tmp.resolve("eval");
      Path got = lambada.ensure(dir, Duration.ofSeconds(5));
      assertEquals(new String(jsonl, StandardCharsets.UTF_8), Files.readString(got));
      int after = gets.get();
      lambada.ensure(dir, Duration.ofSeconds(5));
      assertEquals(after, gets.get(), "a file already there is not fetched again");

      Path zipFile = tmp.resolve("copy.zip");
      Files.write(zipFile, zip.toByteArray());
      EvalSource wikitext =
          new EvalSource(
              "wiki.test.raw",
              List.of(
                  URI.create(base + "/missing/wikitext-2-raw-v1.zip"),
                  URI.create(base + "/wikitext-2-raw-v1.zip")),
              Checksum.gitBlob(gitHashObject(zipFile)),
              "wikitext-2-raw/wiki.test.raw");
      Path text = wikitext.ensure(dir, Duration.ofSeconds(5));
      assertEquals("a b c d e f", Files.readString(text), "the second mirror answered");
      assertFalse(Files.exists(dir.resolve("wikitext-2-raw-v1.zip")), "the archive is removed");

      EvalSource wrong =
          new EvalSource(
              "other.jsonl",
              List.of(URI.create(base + "/lambada_test.jsonl")),
              Checksum.sha256("00".repeat(32)),
              null);
      String message =
          assertThrows(
                  Download.DownloadException.class, () -> wrong.ensure(dir, Duration.ofSeconds(5)))
              .getMessage();
      assertTrue(message.contains("sha256 is "), message);
      assertTrue(message.contains("place other.jsonl in " + dir + " by hand"), message);
      assertFalse(Files.exists(dir.resolve("other.jsonl")), "a wrong file is not kept");
    } finally {
      server.stop(0);
    }
  }

  private static String gitHashObject(Path file) throws Exception {
    Process git = new ProcessBuilder("git", "hash-object", file.toString()).start();
    String out = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertEquals(0, git.waitFor());
    return out;
  }

  private static void serve(HttpServer server, String path, byte[] body, AtomicInteger gets) {
    server.createContext(
        path,
        exchange -> {
          if (!exchange.getRequestURI().getPath().equals(path)) {
            exchange.sendResponseHeaders(404, -1);
            exchange.close();
            return;
          }
          boolean head = exchange.getRequestMethod().equals("HEAD");
          if (!head) {
            gets.incrementAndGet();
          }
          exchange.getResponseHeaders().set("Content-Length", String.valueOf(body.length));
          exchange.sendResponseHeaders(200, head ? -1 : body.length);
          if (!head) {
            exchange.getResponseBody().write(body);
          }
          exchange.close();
        });
  }
}
