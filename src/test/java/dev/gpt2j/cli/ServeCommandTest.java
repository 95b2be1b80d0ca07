package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.Signals;
import dev.gpt2j.testing.TinyModels;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve} as a user runs it: its own process, its memory plan, and its signals. */
@Tag("process")
class ServeCommandTest {
  static final HParams HP = new HParams(50257, 256, 32, 2, 2);
  static final ObjectMapper JSON = new ObjectMapper();
  static Path model;

  @BeforeAll
  static void write(@TempDir Path tmp) {
    model = tmp.resolve("m");
    TinyModels.writeRandom(model, HP, 2);
  }

  @Test
  void dryRunPlansEveryRowAtFullContextAndBadOptionsAreRefused() {
    CliRunner.Outcome o =
        CliRunner.run("serve", "--model-dir", model.toString(), "--max-batch", "3", "--dry-run");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("KV cache (3 rows x 256 tokens)"), o.out());
    CliRunner.assertRefused(
        "--port must be in [0, 65535], got 70000 (see --help)",
        "serve",
        "--model-dir",
        model.toString(),
        "--port",
        "70000");
    CliRunner.assertRefused(
        "--max-batch must be at least 1, got 0 (see --help)",
        "serve",
        "--model-dir",
        model.toString(),
        "--max-batch",
        "0");
  }

  // the first SIGTERM lets the request in flight finish, then the server exits 0, no stack trace
  @Test
  void sigtermDrainsTheRequestsInFlight() throws Exception {
    try (Server s = new Server()) {
      Iterator<String> stream = s.stream(200);
      s.signals("TERM");
      int generated = 0;
      String last = null;
      while (stream.hasNext()) {
        last = stream.next();
        if (last.contains("\"usage\"")) {
          generated = JSON.readTree(last.substring(6)).at("/usage/completion_tokens").asInt();
        }
      }
      assertEquals("data: [DONE]", last);
      assertEquals(200, generated, "the request in flight finished");
      assertTrue(s.process.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, s.process.exitValue());
      String err = s.stderr();
      assertTrue(err.contains("drained"), err);
      assertFalse(err.contains("Exception"), err);
    }
  }

  // a drain whose time runs out says so: the stream it cuts ends in an error event (it was cut
  // with nothing), the log counts it, and the exit code is not 0
  @Test
  void aDrainThatCutsARequestSaysSo() throws Exception {
    try (Server s = new Server("--drain-seconds", "0")) {
      Iterator<String> stream = s.stream(250);
      s.signals("TERM");
      String last = null;
      while (stream.hasNext()) {
        last = stream.next();
      }
      assertTrue(s.process.waitFor(30, TimeUnit.SECONDS));
      String err = s.stderr();
      assertTrue(last != null && last.startsWith("data: {\"error\""), last + "\n" + err);
      assertTrue(last.contains("the server is shutting down"), last);
      assertEquals(1, s.process.exitValue(), err);
      assertTrue(err.contains("drained; 1 request(s) cut when the drain time ran out"), err);
      assertFalse(err.contains("Exception"), err);
    }
  }

  // a client that stalls in its headers, or sends less body than it announced, is disconnected
  // after --read-timeout; it held a thread for ever. The server serves on
  @Test
  void aClientThatStallsIsDisconnected() throws Exception {
    try (Server s = new Server("--read-timeout", "1")) {
      URI at = URI.create(s.url);
      for (String partial :
          List.of(
              "GET /health HTTP/1.1\r\nHo",
              "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{\"m")) {
        try (java.net.Socket socket = new java.net.Socket(at.getHost(), at.getPort())) {
          socket.getOutputStream().write(partial.getBytes(StandardCharsets.US_ASCII));
          socket.setSoTimeout(60_000); // only a hang reaches this
          assertEquals(-1, socket.getInputStream().read(), "closed: " + partial);
        }
      }
      Iterator<String> stream = s.stream(3);
      String last = null;
      while (stream.hasNext()) {
        last = stream.next();
      }
      assertEquals("data: [DONE]", last);
    }
  }

  // a SIGTERM then a Ctrl-C stops at once, the request cut short, no stack trace. The exit code
  // names the signal that stopped it; sent back to back, the kernel delivers the pending SIGINT
  // before the SIGTERM, so either may be the second
  @Test
  void aSecondSignalStopsAtOnce() throws Exception {
    assumeFalse(
        Signals.interruptIgnored(),
        "SIGINT is ignored in this process (started in the background?): Ctrl-C not tested");
    try (Server s = new Server()) {
      Iterator<String> stream = s.stream(250);
      s.signals("TERM", "INT"); // the second one long before the request could finish
      assertTrue(s.process.waitFor(30, TimeUnit.SECONDS));
      int code = s.process.exitValue();
      assertTrue(code == 128 + 2 || code == 128 + 15, "exit " + code + ": " + s.stderr());
      try {
        while (stream.hasNext()) {
          assertFalse(stream.next().equals("data: [DONE]"), "cut short");
        }
      } catch (java.io.UncheckedIOException closedMidChunk) {
        // cut short too
      }
      assertFalse(s.stderr().contains("Exception"), s.stderr());
    }
  }

  /** A server in a process of its own, on a free port. */
  private static final class Server implements AutoCloseable {
    final Process process;
    final String url;

    Server(String... more) throws Exception {
      List<String> argv =
          new java.util.ArrayList<>(
              List.of("serve", "--model-dir", model.toString(), "--port", "0"));
      argv.addAll(List.of(more));
      process = new ProcessBuilder(CliProcess.command(argv)).start();
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      Matcher m = Pattern.compile("on (http://\\S+/v1)").matcher(line == null ? "" : line);
      if (!m.find()) {
        throw new AssertionError("no address in '" + line + "': " + stderr());
      }
      url = m.group(1);
    }

    // a streamed greedy request, read until its first token arrived
    Iterator<String> stream(int tokens) throws Exception {
      String body =
          JSON.createObjectNode()
              .put("model", "m")
              .put("prompt", "Once")
              .put("max_tokens", tokens)
              .put("temperature", 0)
              .put("stream", true)
              .<com.fasterxml.jackson.databind.node.ObjectNode>set(
                  "stream_options", JSON.createObjectNode().put("include_usage", true))
              .toString();
      HttpResponse<Stream<String>> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create(url + "/completions"))
                      .POST(HttpRequest.BodyPublishers.ofString(body))
                      .build(),
                  HttpResponse.BodyHandlers.ofLines());
      assertEquals(200, r.statusCode());
      Iterator<String> lines = r.body().filter(l -> l.startsWith("data: ")).iterator();
      JsonNode first = JSON.readTree(lines.next().substring(6));
      assertEquals(0, first.at("/choices/0/index").asInt());
      return lines;
    }

    // one shell, one kill after the other
    void signals(String... names) throws Exception {
      String pid = Long.toString(process.pid());
      String kills =
          java.util.Arrays.stream(names)
              .map(n -> "kill -" + n + " " + pid)
              .collect(java.util.stream.Collectors.joining("; "));
      assertEquals(0, new ProcessBuilder("sh", "-c", kills).start().waitFor());
    }

    String stderr() throws Exception {
      if (process.isAlive()) {
        return "(running)";
      }
      return new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
      process.toHandle().destroyForcibly();
    }
  }
}
