package dev.gpt2j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.bench.LoadGenerator;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code bench-serve}: concurrent streaming clients against a running {@code serve} (a benchmark,
 * not a test; scripts/bench-serve.sh starts the server and runs bench-sample beside it).
 */
final class BenchServeCommand implements Command {
  private static final int NEW_TOKENS = 128;
  private static final int REQUESTS = 2;
  private static final String PROMPT_TOKENS = "8-22";

  @Override
  public String name() {
    return "bench-serve";
  }

  @Override
  public String summary() {
    return "benchmark a running server: generated tokens/s, time to first token, per-token latency";
  }

  @Override
  public boolean usesTensorFlow() {
    return false;
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(opt("url", "URL", "the server's API base, e.g. http://127.0.0.1:8000/v1"))
        .addOption(opt("clients", "LIST", "concurrent clients, comma-separated (default 1,8,32)"))
        .addOption(
            opt("requests", "N", "requests each client sends in turn (default " + REQUESTS + ")"))
        .addOption(
            opt("new-tokens", "N", "tokens each request asks for (default " + NEW_TOKENS + ")"))
        .addOption(
            opt(
                "prompt-tokens",
                "MIN-MAX",
                "prompt lengths, eight steps from MIN to MAX (default "
                    + PROMPT_TOKENS
                    + ": the shortest is bench-sample's)"))
        .addOption(opt("api-key", "KEY", "the server's --api-key"));
  }

  private static Option opt(String name, String arg, String desc) {
    return Option.builder().longOpt(name).hasArg().argName(arg).desc(desc).build();
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws Exception {
    String url = args.required("url");
    String key = args.string("api-key", null);
    int requests = args.positive("requests", REQUESTS);
    int tokens = args.positive("new-tokens", NEW_TOKENS);
    JsonNode model = firstModel(url, key);
    LoadGenerator load = new LoadGenerator(url, model.get("id").asText(), key);
    int nVocab = model.get("n_vocab").asInt();
    String[] range = args.string("prompt-tokens", PROMPT_TOKENS).split("-");
    int shortest = number("prompt-tokens", range[0]);
    int longest = range.length == 2 ? number("prompt-tokens", range[1]) : -1;
    if (shortest < 1 || longest < shortest) {
      throw new UsageException("--prompt-tokens expects MIN-MAX with 1 <= MIN <= MAX");
    }
    load.run(8, 2, 16, shortest, longest, nVocab); // warm-up: the server's and this JVM's
    out.printf("prompts of %d to %d tokens, %d new tokens each%n", shortest, longest, tokens);
    for (String c : args.string("clients", "1,8,32").split(",")) {
      int clients = number("clients", c);
      out.println(load.run(clients, requests, tokens, shortest, longest, nVocab).format());
    }
    return 0;
  }

  private static int number(String option, String text) {
    try {
      return Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("--" + option + " expects integers, got '" + text + "'");
    }
  }

  private static JsonNode firstModel(String url, String key) throws Exception {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(URI.create(url.replaceAll("/+$", "") + "/models"));
    if (key != null) {
      req.header("Authorization", "Bearer " + key);
    }
    HttpResponse<String> r =
        HttpClient.newHttpClient().send(req.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new UsageException("--url: " + url + "/models answered " + r.statusCode());
    }
    return new ObjectMapper().readTree(r.body()).get("data").get(0);
  }
}
