package dev.gpt2j.serve;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;

/** What {@code GET /metrics} shows, in Prometheus' text format. */
final class ServerMetrics {
  static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
  private static final long WINDOW_NANOS = 10_000_000_000L; // tokens/s over the last 10 s

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter requests =
      Counter.builder()
          .name("gpt2_requests")
          .help("HTTP requests answered, by status code")
          .labelNames("status")
          .register(registry);
  private final Counter promptTokens =
      Counter.builder()
          .name("gpt2_prompt_tokens")
          .help("prompt tokens prefilled")
          .register(registry);
  private final Counter generatedTokens =
      Counter.builder().name("gpt2_generated_tokens").help("tokens generated").register(registry);
  private final Counter cancelled =
      Counter.builder()
          .name("gpt2_cancelled_rows")
          .help(
              "rows that left the batch unfinished: their client went away, or their request failed")
          .register(registry);
  private final Gauge queue =
      Gauge.builder().name("gpt2_queue_rows").help("rows waiting for a slot").register(registry);
  private final Gauge batch =
      Gauge.builder().name("gpt2_batch_rows").help("rows in the decoding batch").register(registry);
  private final Gauge tokensPerSecond =
      Gauge.builder()
          .name("gpt2_generated_tokens_per_second")
          .help("tokens generated per second over the last 10 seconds")
          .register(registry);
  private final Histogram timeToFirstToken =
      Histogram.builder()
          .name("gpt2_time_to_first_token")
          .unit(Unit.SECONDS)
          .help("from a request's arrival to its row's first token")
          .classicOnly()
          .classicExponentialUpperBounds(0.01, 2, 14)
          .register(registry);
  private final Histogram timePerToken =
      Histogram.builder()
          .name("gpt2_time_per_output_token")
          .unit(Unit.SECONDS)
          .help("between a row's consecutive tokens")
          .classicOnly()
          .classicExponentialUpperBounds(0.005, 1.5, 16)
          .register(registry);
  private final ArrayDeque<long[]> recent = new ArrayDeque<>(); // {nanos, tokens}

  void answered(int status) {
    requests.labelValues(Integer.toString(status)).inc();
  }

  void prefilled(int tokens) {
    promptTokens.inc(tokens);
  }

  void cancelled() {
    cancelled.inc();
  }

  void rows(int waiting, int decoding) {
    queue.set(waiting);
    batch.set(decoding);
  }

  void firstToken(double seconds) {
    timeToFirstToken.observe(seconds);
  }

  void nextToken(double seconds) {
    timePerToken.observe(seconds);
  }

  synchronized void generated(int tokens, long now) {
    generatedTokens.inc(tokens);
    recent.addLast(new long[] {now, tokens});
  }

  void write(OutputStream out) throws IOException {
    updateRate(System.nanoTime());
    PrometheusTextFormatWriter.create().write(out, registry.scrape());
  }

  private synchronized void updateRate(long now) {
    while (!recent.isEmpty() && recent.peekFirst()[0] < now - WINDOW_NANOS) {
      recent.removeFirst();
    }
    long tokens = recent.stream().mapToLong(r -> r[1]).sum();
    tokensPerSecond.set(tokens / (WINDOW_NANOS / 1e9));
  }
}
