package dev.gpt2j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.model.ModelSize;
import dev.gpt2j.util.Download;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Downloads against a local HTTP server on 127.0.0.1 laid out like OpenAI's bucket. */
class OpenAiModelsTest {
  @TempDir Path tmp;
  HttpServer server;
  final Map<String, byte[]> files = new HashMap<>();
  final List<String> requests = new ArrayList<>();
  volatile String truncate; // a file whose GET breaks off halfway

  @BeforeEach
  void start() throws IOException {
    Random r = new Random(1);
    for (String name : OpenAiModels.FILES) {
      byte[] body = new byte[name.startsWith("model.ckpt.data") ? 300_000 : 1000 + r.nextInt(500)];
      r.nextBytes(body);
      files.put("/gpt-2/models/124M/" + name, body);
    }
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          String path = exchange.getRequestURI().getPath();
          String range = exchange.getRequestHeaders().getFirst("Range");
          requests.add(
              exchange.getRequestMethod() + " " + path + (range == null ? "" : " " + range));
          byte[] body = files.get(path);
          if (body == null) {
            exchange.sendResponseHeaders(404, -1);
            exchange.close();
            return;
          }
          int from = range == null ? 0 : Integer.parseInt(range.replaceAll("bytes=(\\d+)-", "$1"));
          if (range != null) {
            exchange
                .getResponseHeaders()
                .add(
                    "Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
          }
          int status = range == null ? 200 : 206;
          if (exchange.getRequestMethod().equals("HEAD")) {
            exchange.getResponseHeaders().add("Content-Length", String.valueOf(body.length));
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
            return;
          }
          exchange.sendResponseHeaders(status, body.length - from);
          try (OutputStream out = exchange.getResponseBody()) {
            int end =
                path.endsWith(String.valueOf(truncate))
                    ? from + (body.length - from) / 2
                    : body.length;
            out.write(body, from, end - from);
            if (end < body.length) {
              out.flush();
              exchange.getHttpContext().getServer().stop(0); // drop the connection mid-body
            }
          } catch (IOException ignored) {
            // the client went away
          }
        });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private String base() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/gpt-2";
  }

  private void assertComplete(Path dir) throws IOException {
    for (String name : OpenAiModels.FILES) {
      assertArrayEquals(
          files.get("/gpt-2/models/124M/" + name), Files.readAllBytes(dir.resolve(name)), name);
      assertFalse(Files.exists(dir.resolve("." + name + ".part")), name + ".part left behind");
    }
  }

  @Test
  void downloadsAllSevenFilesWithDownloadModelPysUrlsAndSkipsCompleteOnes() throws IOException {
    CliRunner.Outcome first =
        CliRunner.run("download", "--model", "124M", "--dir", tmp.toString(), "--base-url", base());
    assertEquals(0, first.code(), first.err());
    assertComplete(tmp.resolve("124M"));
    assertTrue(
        requests.contains("GET /gpt-2/models/124M/model.ckpt.data-00000-of-00001"),
        requests.toString());
    requests.clear();
    CliRunner.Outcome again =
        CliRunner.run("download", "--model", "124M", "--dir", tmp.toString(), "--base-url", base());
    assertEquals(0, again.code(), again.err());
    assertTrue(again.out().contains("model.ckpt.index: already complete"), again.out());
    assertTrue(requests.stream().allMatch(r -> r.startsWith("HEAD")), requests.toString());
  }

  @Test
  void resumesAPartialFileWithARangeRequest() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("124M"));
    byte[] data = files.get("/gpt-2/models/124M/model.ckpt.data-00000-of-00001");
    Files.write(
        dir.resolve(".model.ckpt.data-00000-of-00001.part"), java.util.Arrays.copyOf(data, 1234));
    List<String> outcomes = new ArrayList<>();
    OpenAiModels.download(
        ModelSize.GPT2_124M,
        tmp,
        base(),
        Download.DEFAULT_TIMEOUT,
        (name, o) -> outcomes.add(name + " " + o));
    assertTrue(outcomes.contains("model.ckpt.data-00000-of-00001 RESUMED"), outcomes.toString());
    assertTrue(
        requests.contains("GET /gpt-2/models/124M/model.ckpt.data-00000-of-00001 bytes=1234-"));
    assertComplete(dir);
  }

  @Test
  void aTruncatedTransferFailsLeavesNoFinalFileAndResumesLater() throws IOException {
    truncate = "model.ckpt.data-00000-of-00001";
    Download.DownloadException e =
        assertThrows(
            Download.DownloadException.class,
            () ->
                OpenAiModels.download(
                    ModelSize.GPT2_124M, tmp, base(), Download.DEFAULT_TIMEOUT, (n, o) -> {}));
    assertTrue(e.getMessage().contains("run again to resume"), e.getMessage());
    Path dir = tmp.resolve("124M");
    assertFalse(Files.exists(dir.resolve("model.ckpt.data-00000-of-00001")));
    assertTrue(Files.size(dir.resolve(".model.ckpt.data-00000-of-00001.part")) > 0);
    truncate = null;
    stop();
    start(); // the same files again, on a new port
    OpenAiModels.download(ModelSize.GPT2_124M, tmp, base(), Download.DEFAULT_TIMEOUT, (n, o) -> {});
    assertComplete(dir);
  }

  @Test
  void missingFilesAndNoNetworkGiveOneLineNamingTheUrlAndTheDirectory() {
    files.remove("/gpt-2/models/124M/vocab.bpe");
    CliRunner.Outcome o =
        CliRunner.run("download", "--model", "124M", "--dir", tmp.toString(), "--base-url", base());
    assertEquals(1, o.code());
    assertEquals(
        "gpt2 download: "
            + base()
            + "/models/124M/vocab.bpe: HTTP 404. Without network "
            + "access, place OpenAI's files ("
            + String.join(", ", OpenAiModels.FILES)
            + ") in "
            + tmp.resolve("124M")
            + " by hand\n",
        o.err());
    stop();
    CliRunner.Outcome offline =
        CliRunner.run("download", "--model", "355M", "--dir", tmp.toString(), "--base-url", base());
    assertEquals(1, offline.code());
    assertTrue(
        offline
            .err()
            .startsWith("gpt2 download: " + base() + "/models/355M/checkpoint: cannot connect"),
        offline.err());
    assertEquals(1, offline.err().lines().count());
  }

  @Test
  void unknownSizeIsABadOption() {
    CliRunner.Outcome o = CliRunner.run("download", "--model", "2B");
    assertEquals(2, o.code());
    assertEquals(
        "gpt2 download: unknown model size '2B', expected one of 124M, 355M, 774M, 1558M\n",
        o.err());
  }
}
