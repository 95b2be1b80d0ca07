package dev.gpt2j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.LogitsSampler;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.testing.TinyModels;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server over real loopback sockets, against the model's own sampling and scoring. */
class ServeTest {
  static final HParams HP = new HParams(50257, 256, 32, 2, 2);
  static final String KEY = "sk-test";
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newHttpClient();
  static Path dir;
  static Gpt2Model served;
  static Gpt2Model reference; // a model of its own: generate() and logits() as sample and score
  static CompletionServer server;

  @BeforeAll
  static void start(@TempDir Path tmp) throws Exception {
    dir = tmp.resolve("tiny");
    TinyModels.writeRandom(dir, HP, 11);
    served = Gpt2Model.load(dir);
    reference = Gpt2Model.load(dir);
    server =
        CompletionServer.start(
            served, new CompletionServer.Options("127.0.0.1", 0, 8, 16, KEY, "tiny"), System.err);
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    served.close();
    reference.close();
  }

  // greedy text as sample --greedy --stop-at-eot makes it, alone and while seven other requests
  // of other lengths decode in the same batch
  @Test
  void greedyEqualsSampleAloneAndBesideSevenOthers() throws Exception {
    String prompt = "The quick brown fox jumps over";
    String want = greedy(prompt, 20);
    assertEquals(want, text(post(request(prompt, 20).put("temperature", 0))));
    AtomicBoolean othersDone = new AtomicBoolean();
    List<CompletableFuture<List<JsonNode>>> others = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      ObjectNode other = request("Hello there " + "x ".repeat(i * 3), 200).put("temperature", 0);
      others.add(CompletableFuture.supplyAsync(() -> stream(other.put("stream", true))));
    }
    awaitBatchRows(7);
    assertEquals(want, text(post(request(prompt, 20).put("temperature", 0))));
    othersDone.set(others.stream().allMatch(CompletableFuture::isDone));
    assertFalse(othersDone.get(), "the others were still decoding");
    for (int i = 0; i < 7; i++) {
      List<JsonNode> chunks = others.get(i).get();
      String streamed = concat(chunks);
      assertEquals(greedy("Hello there " + "x ".repeat(i * 3), 200), streamed, "other " + i);
    }
  }

  // the same seed gives the same text alone and batched; another seed, another text
  @Test
  void aSeedGivesTheSameTextWhateverElseIsBatched() throws Exception {
    ObjectNode seeded = request("Once upon a time", 24).put("seed", 42).put("temperature", 1.2);
    String alone = text(post(seeded));
    List<CompletableFuture<List<JsonNode>>> others = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ObjectNode other = request("In the beginning " + i, 150).put("seed", i);
      others.add(CompletableFuture.supplyAsync(() -> stream(other.put("stream", true))));
    }
    awaitBatchRows(5);
    assertEquals(alone, text(post(seeded.deepCopy())));
    assertNotEquals(alone, text(post(seeded.deepCopy().put("seed", 43))));
    JsonNode two = post(seeded.deepCopy().put("n", 2));
    assertEquals(alone, two.at("/choices/0/text").asText(), "choice 0 draws as n = 1 does");
    assertNotEquals(alone, two.at("/choices/1/text").asText(), "choice 1 has a stream of its own");
    for (CompletableFuture<List<JsonNode>> o : others) {
      o.get();
    }
  }

  // top_k 1 and a tiny top_p are greedy at any temperature; penalties lower each generated
  // token's logit by count * frequency + presence (the penalised argmax worked out step by step
  // from the reference model's whole-sequence logits)
  @Test
  void samplingParametersReachTheRow() throws Exception {
    String prompt = "Zan Zan";
    String greedy = greedy(prompt, 10);
    assertEquals(greedy, text(post(request(prompt, 10).put("top_k", 1).put("seed", 3))));
    assertEquals(greedy, text(post(request(prompt, 10).put("top_p", 1e-6).put("seed", 3))));
    List<Integer> seq = new ArrayList<>();
    for (int t : reference.tokenizer().encode(prompt)) {
      seq.add(t);
    }
    java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
    List<Integer> out = new ArrayList<>();
    for (int step = 0; step < 10; step++) {
      int[] ids = seq.stream().mapToInt(Integer::intValue).toArray();
      float[] last = reference.logits(new int[][] {ids})[0][ids.length - 1];
      double[] penalised = new double[last.length];
      int best = 0;
      for (int v = 0; v < last.length; v++) {
        int c = counts.getOrDefault(v, 0);
        penalised[v] = last[v] - (c > 0 ? c * 1.5 + 0.5 : 0);
        best = penalised[v] > penalised[best] ? v : best;
      }
      seq.add(best);
      out.add(best);
      counts.merge(best, 1, Integer::sum);
    }
    String want = reference.tokenizer().decode(out.stream().mapToInt(Integer::intValue).toArray());
    ObjectNode penalty =
        request(prompt, 10)
            .put("temperature", 0)
            .put("frequency_penalty", 1.5)
            .put("presence_penalty", 0.5);
    assertEquals(want, text(post(penalty)));
    assertNotEquals(greedy, want, "the penalties changed the text");
  }

  // stop strings cut the text before the first one, across token boundaries, in plain and
  // streamed responses; streamed chunks concatenate to the plain text
  @Test
  void stopStringsStraddlingTokensPlainAndStreamed() throws Exception {
    String prompt = "It was the best of times";
    int[] tokens = greedyTokens(prompt, 24);
    String full = reference.tokenizer().decode(tokens);
    // the end of token 2's text and the start of token 3's
    String first3 = reference.tokenizer().decode(java.util.Arrays.copyOf(tokens, 3));
    String first2 = reference.tokenizer().decode(java.util.Arrays.copyOf(tokens, 2));
    String stop = first3.substring(first2.length() - 1, first2.length() + 1);
    int at = full.indexOf(stop);
    ObjectNode r = request(prompt, 24).put("temperature", 0);
    r.putArray("stop").add("\u0000never").add(stop);
    JsonNode plain = post(r);
    assertEquals(full.substring(0, at), text(plain));
    assertEquals("stop", plain.at("/choices/0/finish_reason").asText());
    List<JsonNode> chunks = stream(r.deepCopy().put("stream", true));
    assertEquals(full.substring(0, at), concat(chunks));
    assertEquals("stop", chunks.get(chunks.size() - 1).at("/choices/0/finish_reason").asText());
    ObjectNode noStop = request(prompt, 24).put("temperature", 0);
    assertEquals(full, concat(stream(noStop.deepCopy().put("stream", true))));
    assertEquals("length", post(noStop).at("/choices/0/finish_reason").asText());
  }

  // logprobs are the model's own log-softmax (float64 over the scorer's logits, 1e-4), the top
  // ones in order, text offsets where each token's text begins; echo puts the prompt first
  @Test
  void logprobsAndEchoFollowTheModelsDistribution() throws Exception {
    String prompt = "To be or not";
    int[] promptTokens = reference.tokenizer().encode(prompt);
    JsonNode r =
        post(request(prompt, 6).put("temperature", 0).put("logprobs", 3).put("echo", true));
    String text = text(r);
    assertTrue(text.startsWith(prompt), text);
    JsonNode lp = r.at("/choices/0/logprobs");
    int[] generated = greedyTokens(prompt, 6);
    int[] all = new int[promptTokens.length + generated.length];
    System.arraycopy(promptTokens, 0, all, 0, promptTokens.length);
    System.arraycopy(generated, 0, all, promptTokens.length, generated.length);
    float[][] logits = reference.logits(new int[][] {all})[0];
    assertEquals(all.length, lp.get("tokens").size());
    assertTrue(lp.get("token_logprobs").get(0).isNull(), "the first prompt token has none");
    assertTrue(lp.get("top_logprobs").get(0).isNull());
    for (int i = 1; i < all.length; i++) {
      double[] want = LogitsSampler.logSoftmax(logits[i - 1]);
      assertEquals(want[all[i]], lp.get("token_logprobs").get(i).asDouble(), 1e-4, "token " + i);
      JsonNode top = lp.get("top_logprobs").get(i);
      int[] best = LogitsSampler.topIndices(logits[i - 1], 3);
      List<String> names = new ArrayList<>();
      top.fieldNames().forEachRemaining(names::add);
      assertEquals(reference.tokenizer().decode(best[0]), names.get(0));
      assertEquals(want[best[0]], top.get(names.get(0)).asDouble(), 1e-4);
      int offset = lp.get("text_offset").get(i).asInt();
      assertTrue(text.startsWith(lp.get("tokens").get(i).asText(), offset), "offset of " + i);
    }
    assertEquals(all[promptTokens.length], generated[0], "greedy's first token is the top logprob");
  }

  // prompts as a string, strings, token ids or arrays of them; n per prompt; usage counts
  @Test
  void everyPromptFormAndUsage() throws Exception {
    int[] ids = reference.tokenizer().encode("Hello world");
    ObjectNode r = request("", 5).put("temperature", 0).put("n", 2);
    r.putArray("prompt").add("Hello world").add("Good morning");
    JsonNode two = post(r);
    assertEquals(4, two.get("choices").size());
    for (int i = 0; i < 4; i++) {
      assertEquals(i, two.at("/choices/" + i + "/index").asInt());
    }
    assertEquals(greedy("Hello world", 5), two.at("/choices/1/text").asText());
    assertEquals(greedy("Good morning", 5), two.at("/choices/2/text").asText());
    int promptTokens = ids.length + reference.tokenizer().encode("Good morning").length;
    assertEquals(promptTokens, two.at("/usage/prompt_tokens").asInt());
    assertEquals(20, two.at("/usage/completion_tokens").asInt());
    assertEquals(promptTokens + 20, two.at("/usage/total_tokens").asInt());
    ObjectNode asIds = request("", 5).put("temperature", 0);
    asIds
        .putArray("prompt")
        .addAll(
            java.util.Arrays.stream(ids)
                .mapToObj(JSON::valueToTree)
                .map(JsonNode.class::cast)
                .toList());
    assertEquals(greedy("Hello world", 5), text(post(asIds)));
    ObjectNode nested = request("", 5).put("temperature", 0);
    nested.putArray("prompt").add(JSON.valueToTree(ids)).add(JSON.valueToTree(ids));
    assertEquals(2, post(nested).get("choices").size());
    JsonNode done = post(request("Hello world", 5).put("temperature", 0));
    assertEquals("text_completion", done.get("object").asText());
    assertTrue(done.get("id").asText().startsWith("cmpl-"));
    assertEquals("tiny", done.get("model").asText());
  }

  // every error in OpenAI's shape and status, none disturbing a request being decoded
  @Test
  void errorsHaveOpenAisShapeAndNeverDisturbOthers() throws Exception {
    String prompt = "A long request";
    CompletableFuture<List<JsonNode>> busy =
        CompletableFuture.supplyAsync(
            () -> stream(request(prompt, 200).put("temperature", 0).put("stream", true)));
    awaitBatchRows(1);
    assertError(400, null, send("POST", "/v1/completions", "{not json", KEY));
    assertError(400, "max_tokens", send(request("x", 1).put("max_tokens", "many")));
    assertError(400, "frobnicate", send(request("x", 1).put("frobnicate", 1)));
    assertError(400, "max_tokens", send(request("x", 1).put("max_tokens", -1)));
    HttpResponse<String> tooLong = send(request("x", 256));
    assertError(400, "max_tokens", tooLong);
    assertTrue(tooLong.body().contains("256") && tooLong.body().contains("257"), tooLong.body());
    ObjectNode fiveStops = request("x", 1);
    fiveStops.putArray("stop").add("a").add("b").add("c").add("d").add("e");
    assertError(400, "stop", send(fiveStops));
    assertError(400, "temperature", send(request("x", 1).put("temperature", -1)));
    assertError(401, null, send("POST", "/v1/completions", request("x", 1).toString(), null));
    assertError(401, null, send("POST", "/v1/completions", request("x", 1).toString(), "sk-no"));
    assertError(404, null, send("GET", "/v1/nothing", null, KEY));
    assertError(404, "model", send(request("x", 1).put("model", "gpt-5")));
    String huge =
        "{\"model\":\"tiny\",\"prompt\":\"" + "a".repeat(CompletionServer.MAX_BODY) + "\"}";
    assertError(413, null, send("POST", "/v1/completions", huge, KEY));
    assertEquals(greedy(prompt, 200), concat(busy.get()), "the busy request went on as alone");
  }

  // a full queue answers 429; a request bigger than the queue, 400. The first request holds the
  // batch's one row for a thousand steps, so that the queue is still full when the third comes
  @Test
  void aFullQueueAnswers429(@TempDir Path tmp) throws Exception {
    Path longer = tmp.resolve("longer");
    TinyModels.writeRandom(longer, new HParams(HP.nVocab(), 1024, HP.nEmbd(), 2, 2), 12);
    try (Gpt2Model m = Gpt2Model.load(longer)) {
      CompletionServer small =
          CompletionServer.start(
              m, new CompletionServer.Options("127.0.0.1", 0, 1, 1, null, "tiny"), System.err);
      try {
        String base = "http://127.0.0.1:" + small.port();
        CompletableFuture<HttpResponse<String>> a =
            HTTP.sendAsync(postTo(base, request("first", 1000).put("temperature", 0)), text());
        awaitMetric(base, "gpt2_batch_rows", 1);
        CompletableFuture<HttpResponse<String>> b =
            HTTP.sendAsync(postTo(base, request("second", 4)), text());
        awaitMetric(base, "gpt2_queue_rows", 1);
        assertError(429, null, HTTP.send(postTo(base, request("third", 4)), text()));
        assertError(400, "n", HTTP.send(postTo(base, request("many", 4).put("n", 3)), text()));
        assertEquals(200, a.get().statusCode());
        assertEquals(200, b.get().statusCode());
      } finally {
        small.close();
      }
    }
  }

  // a client that goes away mid-stream frees its row: the metrics count it, the batch empties
  @Test
  void aClientLeavingMidStreamFreesItsRow() throws Exception {
    double before = metric(base(), "gpt2_cancelled_rows_total");
    String body = request("Goodbye", 240).put("stream", true).put("temperature", 0).toString();
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      OutputStream out = s.getOutputStream();
      out.write(
          ("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                  + KEY
                  + "\r\nContent-Type: application/json\r\nContent-Length: "
                  + bytes.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write(bytes);
      out.flush();
      BufferedReader in =
          new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.startsWith("data: {")) {
          break; // one chunk, then hang up
        }
      }
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (metric(base(), "gpt2_cancelled_rows_total") < before + 1
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(before + 1, metric(base(), "gpt2_cancelled_rows_total"));
    awaitMetric(base(), "gpt2_batch_rows", 0);
  }

  @Test
  void modelsHealthAndMetrics() throws Exception {
    JsonNode models = JSON.readTree(send("GET", "/v1/models", null, KEY).body());
    assertEquals("tiny", models.at("/data/0/id").asText());
    assertEquals(HP.nCtx(), models.at("/data/0/n_ctx").asInt());
    assertEquals(200, send("GET", "/health", null, KEY).statusCode());
    post(request("Count me", 3));
    String metrics = send("GET", "/metrics", null, KEY).body();
    for (String name :
        List.of(
            "gpt2_requests_total{status=\"200\"}",
            "gpt2_prompt_tokens_total",
            "gpt2_generated_tokens_total",
            "gpt2_generated_tokens_per_second",
            "gpt2_queue_rows",
            "gpt2_batch_rows",
            "gpt2_time_to_first_token_seconds_bucket",
            "gpt2_time_per_output_token_seconds_bucket")) {
      assertTrue(metrics.contains(name), name + " in\n" + metrics);
    }
    assertTrue(metric(base(), "gpt2_generated_tokens_total") >= 3);
  }

  // /health needs no key (a load balancer's probe has none) and answers HEAD; a refused key says
  // which scheme it goes in; a body with bytes after its JSON is refused, not cut short
  @Test
  void healthIsOpenAndAnswersHeadAndTheApiNamesItsScheme() throws Exception {
    assertEquals(200, send("GET", "/health", null, null).statusCode());
    HttpResponse<String> head = send("HEAD", "/health", null, null);
    assertEquals(200, head.statusCode());
    assertEquals("", head.body());
    HttpResponse<String> noKey = send("GET", "/v1/models", null, null);
    assertError(401, null, noKey);
    assertEquals("Bearer", noKey.headers().firstValue("WWW-Authenticate").orElse(""));
    assertError(401, null, send("GET", "/metrics", null, null));
    assertError(400, null, send("POST", "/v1/completions", request("x", 1) + " xyz", KEY));
    assertEquals(200, send(request("x", 1)).statusCode(), "and a good request after them");
  }

  // a banned token is never the greedy one: the first token is the best of the rest
  @Test
  void logitBiasBansTheGreedyToken() throws Exception {
    String prompt = "To be or not";
    int[] promptTokens = reference.tokenizer().encode(prompt);
    int greedyFirst = greedyTokens(prompt, 1)[0];
    ObjectNode body = request(prompt, 1).put("temperature", 0).put("logprobs", 0);
    body.putObject("logit_bias").put(String.valueOf(greedyFirst), -100);
    JsonNode r = post(body);
    float[] last = reference.logits(new int[][] {promptTokens})[0][promptTokens.length - 1];
    last[greedyFirst] = Float.NEGATIVE_INFINITY;
    int want = LogitsSampler.argmax(last);
    assertEquals(reference.tokenizer().decode(want), text(r));
  }

  // the end-of-text token is in the logprobs like any other (it ends the text, so it is not in
  // it): harness-style scoring reads token_logprobs[ctxlen:], which would miss it; a token that
  // holds part of a character is named by its bytes; offsets count characters, not UTF-16 units
  @Test
  void logprobsNameEveryTokenAsOpenAiDoes() throws Exception {
    String prompt = "x\uD83D\uDE00y z"; // an emoji: four UTF-8 bytes, two UTF-16 units
    int[] promptTokens = reference.tokenizer().encode(prompt);
    ObjectNode body = request(prompt, 1).put("echo", true).put("logprobs", 1);
    body.putObject("logit_bias").put("50256", 100); // the end of text, whatever the model says
    JsonNode r = post(body);
    assertEquals(prompt, text(r), "the end of text is not in the text");
    assertEquals("stop", r.at("/choices/0/finish_reason").asText());
    JsonNode lp = r.at("/choices/0/logprobs");
    JsonNode tokens = lp.get("tokens");
    assertEquals(promptTokens.length + 1, tokens.size(), lp.toString());
    assertEquals(Choice.END_OF_TEXT, tokens.get(promptTokens.length).asText());
    assertTrue(tokens.toString().contains("bytes:"), "the emoji's tokens: " + tokens);
    float[] last = reference.logits(new int[][] {promptTokens})[0][promptTokens.length - 1];
    assertEquals(
        LogitsSampler.logSoftmax(last)[50256],
        lp.get("token_logprobs").get(promptTokens.length).asDouble(),
        1e-4,
        "the model's own log-probability, before the bias");
    StringBuilder before = new StringBuilder(); // the text of the whole tokens so far
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < promptTokens.length; i++) {
      byte[] b = reference.tokenizer().decodeBytes(promptTokens[i]);
      String name = tokens.get(i).asText();
      String whole = new String(b, java.nio.charset.StandardCharsets.UTF_8);
      if (whole.contains("\uFFFD")) {
        assertTrue(name.matches("bytes:(\\\\x[0-9a-f]{2})+"), name);
      } else {
        assertEquals(whole, name);
        String sofar = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(
            sofar.codePointCount(0, sofar.length()),
            lp.get("text_offset").get(i).asInt(),
            "offset of " + name + " in characters");
      }
      bytes.writeBytes(b);
    }
    assertEquals(
        prompt.codePointCount(0, prompt.length()),
        lp.get("text_offset").get(promptTokens.length).asInt());
  }

  // an idle server takes max_batch + max_queue rows at once (8 + 16 here): rows waiting to join
  // the batch's free slots counted as queued, and 7 of a burst of 24 were refused
  @Test
  void anIdleServerTakesABatchAndAQueueAtOnce() throws Exception {
    JsonNode one = post(request("Many at once", 2).put("n", 24));
    assertEquals(24, one.get("choices").size());
    List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      HttpRequest r =
          HttpRequest.newBuilder(URI.create(base() + "/v1/completions"))
              .header("Authorization", "Bearer " + KEY)
              .POST(HttpRequest.BodyPublishers.ofString(request("Burst " + i, 2).toString()))
              .build();
      burst.add(HTTP.sendAsync(r, text()));
    }
    for (CompletableFuture<HttpResponse<String>> r : burst) {
      assertEquals(200, r.get().statusCode(), r.get().body());
    }
  }

  // what EleutherAI's harness sends to score text (lm_eval/models/openai_completions.py): token-id
  // prompts in a batch, echo, logprobs 1, temperature 0, max_tokens 0 (older) or 1; each prompt's
  // token_logprobs equal score's on the same tokens, one ending in the end of text too
  @Test
  void harnessStyleScoringRequestsAgreeWithScore() throws Exception {
    int[] plain = reference.tokenizer().encode("The quick brown fox jumps over");
    int[] ending = reference.tokenizer().encode("A short document.");
    ending = java.util.Arrays.copyOf(ending, ending.length + 1);
    ending[ending.length - 1] = 50256;
    for (int maxTokens : new int[] {0, 1}) {
      ObjectNode body =
          JSON.createObjectNode()
              .put("model", "tiny")
              .put("temperature", 0)
              .put("max_tokens", maxTokens)
              .put("logprobs", 1)
              .put("echo", true)
              .put("seed", 1234);
      body.putArray("prompt").add(array(plain)).add(array(ending));
      JsonNode r = post(body);
      for (int p = 0; p < 2; p++) {
        int[] prompt = p == 0 ? plain : ending;
        JsonNode choice = r.get("choices").get(p);
        assertEquals(p, choice.get("index").asInt());
        JsonNode logprobs = choice.at("/logprobs/token_logprobs");
        assertEquals(prompt.length + maxTokens, logprobs.size(), choice.toString());
        double[] want = reference.score(prompt);
        for (int i = 1; i < prompt.length; i++) {
          assertEquals(want[i - 1], logprobs.get(i).asDouble(), 1e-5, "prompt " + p + ", " + i);
        }
      }
      assertEquals(maxTokens == 0 ? 0 : 2, r.at("/usage/completion_tokens").asInt());
    }
  }

  private static com.fasterxml.jackson.databind.node.ArrayNode array(int[] tokens) {
    com.fasterxml.jackson.databind.node.ArrayNode a = JSON.createArrayNode();
    for (int t : tokens) {
      a.add(t);
    }
    return a;
  }

  // --- helpers ---

  static ObjectNode request(String prompt, int maxTokens) {
    return JSON.createObjectNode()
        .put("model", "tiny")
        .put("prompt", prompt)
        .put("max_tokens", maxTokens);
  }

  static String greedy(String prompt, int n) {
    return reference.tokenizer().decode(greedyTokens(prompt, n));
  }

  // what sample --greedy --stop-at-eot generates
  static int[] greedyTokens(String prompt, int n) {
    SampleOptions o = SampleOptions.greedy(n).toBuilder().stopAtEndOfText(true).build();
    return reference
        .generate(reference.tokenizer().encode(prompt), o, (s, t) -> {})
        .get(0)
        .tokens();
  }

  static String base() {
    return "http://127.0.0.1:" + server.port();
  }

  static HttpResponse.BodyHandler<String> text() {
    return HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8);
  }

  static HttpRequest postTo(String base, ObjectNode body) {
    return HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
        .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
        .build();
  }

  static HttpResponse<String> send(String method, String path, String body, String key)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    return HTTP.send(b.build(), text());
  }

  static HttpResponse<String> send(ObjectNode body) throws Exception {
    return send("POST", "/v1/completions", body.toString(), KEY);
  }

  static JsonNode post(ObjectNode body) throws Exception {
    HttpResponse<String> r = send(body);
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  static String text(JsonNode response) {
    return response.at("/choices/0/text").asText();
  }

  // the streamed chunks of a request, up to [DONE]
  static List<JsonNode> stream(ObjectNode body) {
    try {
      HttpRequest r =
          HttpRequest.newBuilder(URI.create(base() + "/v1/completions"))
              .header("Authorization", "Bearer " + KEY)
              .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
              .build();
      HttpResponse<java.util.stream.Stream<String>> response =
          HTTP.send(r, HttpResponse.BodyHandlers.ofLines());
      assertEquals(200, response.statusCode());
      List<String> lines =
          response.body().filter(l -> l.startsWith("data: ")).collect(Collectors.toList());
      assertEquals("data: [DONE]", lines.get(lines.size() - 1));
      List<JsonNode> chunks = new ArrayList<>();
      for (String l : lines.subList(0, lines.size() - 1)) {
        chunks.add(JSON.readTree(l.substring(6)));
      }
      return chunks;
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  static String concat(List<JsonNode> chunks) {
    return chunks.stream().map(c -> c.at("/choices/0/text").asText()).collect(Collectors.joining());
  }

  static void assertError(int status, String param, HttpResponse<String> r) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    JsonNode error = JSON.readTree(r.body()).get("error");
    for (String field : List.of("message", "type", "param", "code")) {
      assertTrue(error.has(field), field + " in " + r.body());
    }
    assertFalse(error.get("message").asText().isBlank());
    if (param == null) {
      assertTrue(error.get("param").isNull(), r.body());
    } else {
      assertEquals(param, error.get("param").asText(), r.body());
    }
  }

  static double metric(String base, String name) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/metrics"));
    if (base.equals(base())) {
      b.header("Authorization", "Bearer " + KEY);
    }
    for (String line : HTTP.send(b.build(), text()).body().split("\n")) {
      if (line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(name.length() + 1));
      }
    }
    throw new AssertionError(name + " not in the metrics");
  }

  static void awaitMetric(String base, String name, double value) throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (metric(base, name) != value && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertEquals(value, metric(base, name), name);
  }

  static void awaitBatchRows(int atLeast) throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (metric(base(), "gpt2_batch_rows") < atLeast && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertTrue(metric(base(), "gpt2_batch_rows") >= atLeast);
  }
}
