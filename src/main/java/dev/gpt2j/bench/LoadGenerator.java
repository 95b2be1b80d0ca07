package dev.gpt2j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * Concurrent streaming clients against a running server, each sending greedy requests for a fixed
 * number of tokens after prompts of different lengths, timed the way a client sees them.
 */
public final class LoadGenerator {
  /**
   * What the clients saw: generated tokens per second over the whole run, and the distributions of
   * time to first token and of the time between chunks of text (a chunk is a token unless text was
   * held back), in seconds.
   */
  public record Report(
      int clients, int requests, long tokens, double seconds, double[] ttft, double[] perToken) {
    public double tokensPerSecond() {
      return tokens / seconds;
    }

    public String format() {
      return String.format(
          "%d clients, %d requests: %.1f generated tokens/s; time to first token p50 %.3f s,"
              + " p99 %.3f s; per-token latency p50 %.4f s, p99 %.4f s",
          clients,
          requests,
          tokensPerSecond(),
          percentile(ttft, 50),
          percentile(ttft, 99),
          percentile(perToken, 50),
          percentile(perToken, 99));
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();
  private final URI completions;
  private final String model;
  private final String apiKey;

  public LoadGenerator(String baseUrl, String model, String apiKey) {
    this.completions = URI.create(baseUrl.replaceAll("/+$", "") + "/completions");
    this.model = model;
    this.apiKey = apiKey;
  }

  /**
   * {@code clients} clients at once, each sending {@code requests} requests in turn for {@code
   * tokens} tokens; prompt lengths step evenly from {@code shortest} to {@code longest} over eight
   * (client c's r-th prompt takes step (c + r) mod 8).
   */
  public Report run(int clients, int requests, int tokens, int shortest, int longest, int nVocab)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      List<Future<List<Timing>>> done = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int c = 0; c < clients; c++) {
        int client = c;
        done.add(
            pool.submit(
                () -> {
                  List<Timing> timings = new ArrayList<>();
                  for (int r = 0; r < requests; r++) {
                    int length = shortest + (longest - shortest) * ((client + r) % 8) / 7;
                    timings.add(request(prompt(length, client, nVocab), tokens));
                  }
                  return timings;
                }));
      }
      List<Timing> all = new ArrayList<>();
      for (Future<List<Timing>> f : done) {
        all.addAll(f.get());
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      long generated = 0;
      double[] ttft = new double[all.size()];
      List<Double> gaps = new ArrayList<>();
      for (int i = 0; i < all.size(); i++) {
        double[] t = all.get(i).arrivals();
        generated += all.get(i).tokens();
        ttft[i] = t[0];
        for (int k = 1; k < t.length; k++) {
          gaps.add(t[k] - t[k - 1]);
        }
      }
      return new Report(
          clients,
          all.size(),
          generated,
          seconds,
          ttft,
          gaps.stream().mapToDouble(Double::doubleValue).toArray());
    } finally {
      pool.shutdownNow();
    }
  }

  /** One request: tokens generated, and when each chunk of text arrived after it was sent. */
  private record Timing(int tokens, double[] arrivals) {}

  // streams one greedy completion
  private Timing request(int[] prompt, int tokens) throws IOException, InterruptedException {
    String body =
        JSON.writeValueAsString(
            JSON.createObjectNode()
                .put("model", model)
                .put("max_tokens", tokens)
                .put("temperature", 0)
                .put("stream", true)
                .<ObjectNode>set(
                    "stream_options", JSON.createObjectNode().put("include_usage", true))
                .set("prompt", JSON.valueToTree(prompt)));
    HttpRequest.Builder req =
        HttpRequest.newBuilder(completions)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (apiKey != null) {
      req.header("Authorization", "Bearer " + apiKey);
    }
    long sent = System.nanoTime();
    HttpResponse<Stream<String>> response =
        http.send(req.build(), HttpResponse.BodyHandlers.ofLines());
    if (response.statusCode() != 200) {
      throw new IOException(
          "the server answered "
              + response.statusCode()
              + ": "
              + String.join("\n", response.body().toList()));
    }
    List<Double> arrivals = new ArrayList<>(); // of each chunk with text: a token, or a few
    int generated = 0;
    for (Iterator<String> it = response.body().iterator(); it.hasNext(); ) {
      String line = it.next();
      if (!line.startsWith("data: {")) {
        continue;
      }
      double now = (System.nanoTime() - sent) / 1e9;
      JsonNode chunk = JSON.readTree(line.substring(6));
      if (chunk.hasNonNull("usage")) {
        generated = chunk.get("usage").get("completion_tokens").asInt();
      } else if (!chunk.get("choices").get(0).get("text").asText().isEmpty()) {
        arrivals.add(now);
      }
    }
    return new Timing(generated, arrivals.stream().mapToDouble(Double::doubleValue).toArray());
  }

  private static int[] prompt(int length, int client, int nVocab) {
    int[] p = new int[length];
    for (int i = 0; i < length; i++) {
      p[i] = (int) (((long) i * 7919 + 13 + 104729L * client) % nVocab);
    }
    return p;
  }

  /** The p-th percentile (nearest rank) of {@code x}. */
  public static double percentile(double[] x, double p) {
    if (x.length == 0) {
      return Double.NaN;
    }
    double[] s = x.clone();
    Arrays.sort(s);
    int rank = (int) Math.ceil(p / 100 * s.length);
    return s[Math.max(0, Math.min(s.length - 1, rank - 1))];
  }
}
