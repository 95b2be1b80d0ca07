package dev.gpt2j.serve;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A completion request in flight: its choices (n after each prompt), and the deltas they send back
 * from the scheduler to the thread answering the client.
 */
final class Completion {
  final String id = "cmpl-" + UUID.randomUUID().toString().replace("-", "");
  final long created = System.currentTimeMillis() / 1000;
  private final long arrivedNanos = System.nanoTime();
  private final CompletionRequest body;
  private final List<Choice> choices = new ArrayList<>();
  private final BlockingQueue<Choice.Delta> deltas = new LinkedBlockingQueue<>();

  // sent instead of a delta when the request cannot be finished (failure says why)
  private static final Choice.Delta FAILED = new Choice.Delta(-1, "", List.of(), "error");

  private volatile ApiError failure;

  /**
   * Choice i of prompt p is index p * n + i, as OpenAI numbers them. Each draws from its own stream
   * split off the request's seed, so a seed gives the same text whatever else is being decoded.
   */
  Completion(CompletionRequest body) {
    this.body = body;
    SplittableRandom root =
        new SplittableRandom(body.seed() != null ? body.seed() : new SecureRandom().nextLong());
    for (int p = 0; p < body.prompts().size(); p++) {
      for (int i = 0; i < body.n(); i++) {
        choices.add(new Choice(this, choices.size(), body.prompts().get(p), root.split()));
      }
    }
  }

  int promptTokens() {
    return body.prompts().stream().mapToInt(p -> p.length).sum();
  }

  CompletionRequest body() {
    return body;
  }

  /** Its rows: choice i of prompt p is row p * n + i. */
  List<Choice> choices() {
    return Collections.unmodifiableList(choices);
  }

  long arrivedNanos() {
    return arrivedNanos;
  }

  /** The client has gone: its choices leave the batch at the next step. */
  void cancel() {
    choices.forEach(Choice::cancel);
  }

  /** A row's next part, from the scheduler to the thread answering the client. */
  void send(Choice.Delta d) {
    deltas.add(d);
  }

  /** The request ends with {@code e}; its other rows leave at the next step. */
  void fail(ApiError e) {
    cancel();
    failure = e;
    deltas.add(FAILED);
  }

  /** The next part sent, waiting for it; throws the failure that ended the request. */
  Choice.Delta next() throws InterruptedException {
    Choice.Delta d = deltas.take();
    if (d == FAILED) {
      throw failure;
    }
    return d;
  }
}
