package dev.gpt2j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.gpt2j.Gpt2Model;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * OpenAI's completions API over HTTP (the JDK's server): {@code POST /v1/completions}, plain or
 * streamed as server-sent events, {@code GET /v1/models}, {@code /health} and {@code /metrics}.
 * Requests are checked on the thread that answers them; decoding happens on the {@link
 * Scheduler}'s, which batches every request in flight.
 */
public final class CompletionServer implements AutoCloseable {
  /** How the server is set up. {@code apiKey} null: no key needed. */
  public record Options(
      String host, int port, int maxBatch, int maxQueue, String apiKey, String modelName) {}

  static final int MAX_BODY = 1 << 20;
  private static final long DISCARD_LIMIT = 16L * MAX_BODY;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Gpt2Model model;
  private final Options options;
  private final ServerMetrics metrics = new ServerMetrics();
  private final ResponseJson json;
  private final Scheduler scheduler;
  private final HttpServer http;
  private final ExecutorService pool;
  private final PrintStream log;

  private CompletionServer(Gpt2Model model, Options options, PrintStream log) throws IOException {
    this.model = model;
    this.options = options;
    this.log = log;
    this.json = new ResponseJson(model, options.modelName());
    this.scheduler = new Scheduler(model, options.maxBatch(), options.maxQueue(), metrics, log);
    this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 0);
    this.pool =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "gpt2-http");
              t.setDaemon(true);
              return t;
            });
    http.setExecutor(pool);
    http.createContext("/", this::handle);
  }

  /** Binds and starts answering. */
  public static CompletionServer start(Gpt2Model model, Options options, PrintStream log)
      throws IOException {
    CompletionServer s = new CompletionServer(model, options, log);
    s.scheduler.start();
    s.http.start();
    return s;
  }

  /** The port it listens on (the one chosen when asked for port 0). */
  public int port() {
    return http.getAddress().getPort();
  }

  /**
   * Stops taking requests and lets the rows in flight finish, for at most {@code seconds}; then
   * stops, the requests not finished ending in an error. Returns how many requests were cut.
   */
  public int drain(long seconds) throws InterruptedException {
    int cut = scheduler.drain(seconds, TimeUnit.SECONDS);
    http.stop(1); // the cut requests' answers and error events go out first
    pool.shutdownNow();
    return cut;
  }

  /** Stops after the step being decoded, whatever is in flight. */
  @Override
  public void close() throws InterruptedException {
    scheduler.stopNow();
    http.stop(0);
    pool.shutdownNow();
  }

  private void handle(HttpExchange ex) throws IOException {
    int status;
    try {
      String route = ex.getRequestMethod() + " " + ex.getRequestURI().getPath();
      if (!ex.getRequestURI().getPath().equals("/health")) { // open, as llama.cpp's and vLLM's
        authorize(ex);
      }
      status =
          switch (route) {
            case "POST /v1/completions" -> complete(ex);
            case "GET /v1/models" -> send(ex, 200, json.models());
            case "GET /health", "HEAD /health" -> health(ex);
            case "GET /metrics" -> metrics(ex);
            default -> {
              if (route.equals("GET /v1/models/" + options.modelName())) {
                yield send(ex, 200, json.modelCard());
              }
              throw new ApiError(
                  404,
                  "invalid_request_error",
                  null,
                  "unknown_url",
                  "Unknown request URL: " + route);
            }
          };
    } catch (ApiError e) {
      status = sendError(ex, e);
    } catch (IOException e) { // the client went away
      status = 499;
    } catch (RuntimeException e) {
      log.println("serve: " + ex.getRequestURI() + " failed: " + e);
      status = sendError(ex, new ApiError(500, "server_error", null, null, e.toString()));
    } finally {
      ex.close();
    }
    metrics.answered(status);
  }

  private void authorize(HttpExchange ex) {
    if (options.apiKey() == null) {
      return;
    }
    String given = ex.getRequestHeaders().getFirst("Authorization");
    byte[] expected = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
    if (given == null || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
      throw new ApiError(
          401,
          "invalid_request_error",
          null,
          "invalid_api_key",
          given == null
              ? "You didn't provide an API key (Authorization: Bearer KEY)"
              : "Incorrect API key provided");
    }
  }

  private int complete(HttpExchange ex) throws IOException {
    CompletionRequest request =
        CompletionRequest.read(readBody(ex), model.tokenizer(), model.hparams());
    if (!request.model().equals(options.modelName())) {
      throw new ApiError(
          404,
          "invalid_request_error",
          "model",
          "model_not_found",
          "The model `"
              + request.model()
              + "` does not exist (this server has `"
              + options.modelName()
              + "`)");
    }
    Completion c = new Completion(request);
    scheduler.submit(c);
    return request.stream() ? stream(ex, c) : answer(ex, c);
  }

  private int answer(HttpExchange ex, Completion c) throws IOException {
    List<StringBuilder> texts = new ArrayList<>();
    List<List<Choice.Token>> tokens = new ArrayList<>();
    String[] finish = new String[c.choices().size()];
    for (int i = 0; i < finish.length; i++) {
      texts.add(new StringBuilder());
      tokens.add(new ArrayList<>());
    }
    for (int open = finish.length; open > 0; ) {
      Choice.Delta d = next(c);
      texts.get(d.index()).append(d.text());
      tokens.get(d.index()).addAll(d.tokens());
      if (d.finishReason() != null) {
        finish[d.index()] = d.finishReason();
        open--;
      }
    }
    ArrayNode choices = JSON.createArrayNode();
    for (int i = 0; i < finish.length; i++) {
      choices.add(ResponseJson.choice(c, i, texts.get(i).toString(), tokens.get(i), finish[i]));
    }
    return send(ex, 200, json.withUsage(c, json.chunk(c, choices)));
  }

  private int stream(HttpExchange ex, Completion c) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "text/event-stream");
    ex.getResponseHeaders().set("Cache-Control", "no-cache");
    ex.sendResponseHeaders(200, 0);
    OutputStream out = ex.getResponseBody();
    try {
      for (int open = c.choices().size(); open > 0; ) {
        Choice.Delta d;
        try {
          d = next(c);
        } catch (ApiError e) {
          event(out, JSON.writeValueAsString(ResponseJson.error(e)));
          return 200;
        }
        ArrayNode choices = JSON.createArrayNode();
        choices.add(ResponseJson.choice(c, d.index(), d.text(), d.tokens(), d.finishReason()));
        event(out, JSON.writeValueAsString(json.chunk(c, choices)));
        if (d.finishReason() != null) {
          open--;
        }
      }
      if (c.body().includeUsage()) {
        event(
            out, JSON.writeValueAsString(json.withUsage(c, json.chunk(c, JSON.createArrayNode()))));
      }
      event(out, "[DONE]");
      return 200;
    } catch (IOException e) {
      c.cancel(); // the client went away: its rows leave at the next step
      throw e;
    }
  }

  private static void event(OutputStream out, String data) throws IOException {
    out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  // the next delta of any of the request's choices
  private static Choice.Delta next(Completion c) {
    try {
      return c.next();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      c.cancel();
      throw new ApiError(503, "server_error", null, null, "the server is shutting down");
    }
  }

  // 200 while it takes requests; 503 once draining, or if decoding stopped
  private int health(HttpExchange ex) throws IOException {
    boolean ok = scheduler.healthy();
    return send(
        ex, ok ? 200 : 503, JSON.createObjectNode().put("status", ok ? "ok" : "unavailable"));
  }

  private int metrics(HttpExchange ex) throws IOException {
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    metrics.write(text);
    ex.getResponseHeaders().set("Content-Type", ServerMetrics.CONTENT_TYPE);
    ex.sendResponseHeaders(200, text.size());
    ex.getResponseBody().write(text.toByteArray());
    return 200;
  }

  private static byte[] readBody(HttpExchange ex) throws IOException {
    String length = ex.getRequestHeaders().getFirst("Content-Length");
    try (InputStream in = ex.getRequestBody()) {
      if (length != null && length.matches("\\d{1,18}") && Long.parseLong(length) > MAX_BODY) {
        throw tooLarge(in);
      }
      byte[] body = in.readNBytes(MAX_BODY + 1);
      if (body.length > MAX_BODY) {
        throw tooLarge(in);
      }
      return body;
    }
  }

  // Reads what is left of a body too large (up to DISCARD_LIMIT) before the 413 goes out: a
  // connection closed on unread bytes is reset, and a reset can drop the answer before the client
  // reads it, so a client that sent a little too much would see a broken connection, not the 413.
  // read, not skip: the JDK server's body stream does not override skip, which would read on past
  // the body's end and wait for bytes that never come.
  private static ApiError tooLarge(InputStream body) throws IOException {
    byte[] sink = new byte[64 * 1024];
    long left = DISCARD_LIMIT;
    int read;
    while (left > 0 && (read = body.read(sink, 0, (int) Math.min(sink.length, left))) > 0) {
      left -= read;
    }
    return new ApiError(
        413,
        "invalid_request_error",
        null,
        "request_too_large",
        "the request body is over " + MAX_BODY + " bytes (1 MiB)");
  }

  private static int sendError(HttpExchange ex, ApiError e) {
    if (e.status == 401) { // RFC 6750: the scheme the key goes in
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
    }
    try {
      return send(ex, e.status, ResponseJson.error(e));
    } catch (IOException gone) {
      return e.status;
    }
  }

  private static int send(HttpExchange ex, int status, ObjectNode body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    if (ex.getRequestMethod().equals("HEAD")) { // a GET's status and headers, and no body
      ex.sendResponseHeaders(status, -1);
      return status;
    }
    ex.sendResponseHeaders(status, bytes.length);
    ex.getResponseBody().write(bytes);
    return status;
  }
}
