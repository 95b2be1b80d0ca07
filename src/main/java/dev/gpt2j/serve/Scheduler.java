package dev.gpt2j.serve;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.sampling.RowDecoder;
import dev.gpt2j.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;

/**
 * Continuous batching: one thread owns the model and runs the loop. Between steps it admits waiting
 * rows into free slots (prefilling their prompts), then steps every row at once, draws each row's
 * token its own way, sends what became final, and frees the slot of every row that ended or whose
 * client went away.
 */
final class Scheduler {
  private final Tokenizer tokenizer;
  private final RowDecoder<Choice> decoder;
  private final ServerMetrics metrics;
  private final PrintStream log;
  private final int maxRows;
  private final int maxQueue;
  private volatile int decodingRows; // the decoder's rows, as of the last admission
  private final Deque<Choice> waiting = new ArrayDeque<>(); // guarded by this
  private final Thread thread;
  private final float[] scratch;
  private boolean draining; // guarded by this
  private volatile boolean stopNow;
  private volatile boolean stopped;
  private long lastStepEnd;

  Scheduler(Gpt2Model model, int maxRows, int maxQueue, ServerMetrics metrics, PrintStream log) {
    this.tokenizer = model.tokenizer();
    this.decoder = model.rowDecoder(maxRows);
    this.metrics = metrics;
    this.log = log;
    this.maxRows = maxRows;
    this.maxQueue = maxQueue;
    this.scratch = new float[model.hparams().nVocab()];
    this.thread = new Thread(this::loop, "gpt2-scheduler");
  }

  void start() {
    thread.start();
  }

  /**
   * Queues a request's rows; refused (429) when the free rows of the batch and the queue have no
   * room for all of them: an idle server takes max_batch + max_queue rows at once.
   */
  synchronized void submit(Completion c) {
    if (draining) {
      throw new ApiError(503, "server_error", null, null, "the server is shutting down");
    }
    int rows = c.choices().size();
    if (rows > maxRows + maxQueue) {
      throw ApiError.invalid(
          "n",
          "the request asks for "
              + rows
              + " rows; this server holds at most "
              + (maxRows + maxQueue)
              + " (max_batch + max_queue)");
    }
    if (waiting.size() + rows > maxQueue + maxRows - decodingRows) {
      throw new ApiError(
          429,
          "rate_limit_error",
          null,
          "queue_full",
          "the server's queue is full (" + maxQueue + " rows); try again shortly");
    }
    waiting.addAll(c.choices());
    metrics.rows(waiting.size(), decoder.rows().size());
    notifyAll();
  }

  /**
   * Stops taking requests, refuses those still queued at once, and waits up to {@code timeout} (0:
   * not at all) for the rows being decoded to finish; then stops the loop, and the requests of rows
   * still decoding get an error (a stream, an error event). Returns how many requests were cut:
   * queued or decoding.
   */
  int drain(long timeout, TimeUnit unit) throws InterruptedException {
    Set<Completion> cut = new LinkedHashSet<>();
    synchronized (this) {
      draining = true;
      waiting.forEach(c -> cutShort(c.request(), cut));
      waiting.clear();
      notifyAll();
    }
    if (timeout > 0) {
      thread.join(unit.toMillis(timeout));
    }
    stopNow(); // the loop is over: its rows are this thread's now
    decoder.rows().forEach(c -> cutShort(c.request(), cut));
    decoder.clear();
    return cut.size();
  }

  // a request the drain ends before it finished: failed once, counted once
  private static void cutShort(Completion c, Set<Completion> cut) {
    if (cut.add(c)) {
      fail(
          c,
          new ApiError(
              503,
              "server_error",
              null,
              null,
              "the server is shutting down: the request was cut before it finished"));
    }
  }

  /** Stops the loop after the step it is in. */
  void stopNow() throws InterruptedException {
    stopNow = true;
    synchronized (this) {
      notifyAll();
    }
    thread.join();
  }

  // a failed graph run fails the requests it was decoding (500) and the loop goes on with the next
  private void loop() {
    try {
      while (!stopNow) {
        admit();
        if (decoder.rows().isEmpty()) {
          if (!awaitWork()) {
            return;
          }
          continue;
        }
        try {
          step();
        } catch (RuntimeException e) {
          log.println("serve: a decoding step failed: " + e);
          for (Choice c : decoder.rows()) {
            fail(c.request(), failed(e));
          }
          decoder.clear();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      stopped = true;
    }
  }

  /** Whether it takes requests: not draining, and its loop running. */
  synchronized boolean healthy() {
    return !draining && !stopped && thread.isAlive();
  }

  private static ApiError failed(RuntimeException e) {
    return new ApiError(500, "server_error", null, null, "decoding failed: " + e.getMessage());
  }

  // false when the loop should end (draining with nothing left)
  private synchronized boolean awaitWork() throws InterruptedException {
    while (waiting.isEmpty() && !stopNow) {
      if (draining) {
        return false;
      }
      wait();
    }
    return !stopNow;
  }

  // waiting rows into the free slots: prompts of similar lengths prefilled together in one pass,
  // and a row that echoes its prompt's logprobs alone, its prefill giving them; a row that asks for
  // no tokens is answered without a slot
  private void admit() {
    List<Choice> joining = new ArrayList<>();
    List<Choice> scored = new ArrayList<>();
    List<Choice> noTokens = new ArrayList<>();
    synchronized (this) {
      // a row given no tokens takes no slot, but one that echoes logprobs borrows one for its
      // prefill
      while (joining.size() + scored.size() < decoder.free() && !waiting.isEmpty()) {
        Choice c = waiting.poll();
        if (!c.cancelled()) {
          (c.echoesLogprobs() ? scored : c.maxTokens() == 0 ? noTokens : joining).add(c);
        }
      }
    }
    for (Choice c : noTokens) {
      echo(c, null);
      metrics.prefilled(c.prompt().length);
      c.request().send(c.endWithoutTokens());
    }
    for (Choice c : scored) {
      prefill(
          List.of(c),
          () -> {
            if (c.maxTokens() == 0) {
              echo(c, decoder.promptLogits(c.prompt()));
              c.request().send(c.endWithoutTokens());
            } else {
              echo(c, decoder.joinWithPromptLogits(c, c.prompt(), c.maxTokens()));
            }
          });
    }
    joining.sort(Comparator.comparingInt(c -> c.prompt().length));
    for (List<Choice> group : similarLengths(joining, c -> c.prompt().length)) {
      group.forEach(c -> echo(c, null));
      prefill(
          group,
          () ->
              decoder.join(
                  group,
                  group.stream().map(Choice::prompt).toList(),
                  group.stream().mapToInt(Choice::maxTokens).toArray()));
    }
    decodingRows = decoder.rows().size();
    metrics.rows(waitingRows(), decodingRows);
  }

  // a prefill of group's rows; one that fails fails their requests, and the loop goes on
  private void prefill(List<Choice> group, Runnable prefill) {
    try {
      prefill.run();
    } catch (RuntimeException e) {
      log.println("serve: a prefill failed: " + e);
      group.forEach(c -> fail(c.request(), failed(e)));
    }
    group.forEach(c -> metrics.prefilled(c.prompt().length));
  }

  // the prompt as the choice's first delta when it asks for it back, with the logprobs of its
  // tokens from promptLogits (row i predicts token i + 1) when it asks for those
  private void echo(Choice c, float[][] promptLogits) {
    if (c.request().body().echo()) {
      c.request().send(c.echo(tokenizer, promptLogits));
    }
  }

  /**
   * Rows sorted by prompt length, cut into groups whose padding adds at most a quarter to the
   * tokens a prefill computes: each group is prefilled in one pass, every prompt padded to its
   * longest.
   */
  static <T> List<List<T>> similarLengths(List<T> sorted, ToIntFunction<T> length) {
    List<List<T>> groups = new ArrayList<>();
    List<T> group = new ArrayList<>();
    long tokens = 0;
    for (T c : sorted) {
      int n = length.applyAsInt(c);
      long padded = (long) n * (group.size() + 1);
      if (!group.isEmpty() && padded > 1.25 * (tokens + n)) {
        groups.add(group);
        group = new ArrayList<>();
        tokens = 0;
      }
      group.add(c);
      tokens += n;
    }
    if (!group.isEmpty()) {
      groups.add(group);
    }
    return groups;
  }

  private synchronized int waitingRows() {
    return waiting.size();
  }

  private void step() {
    float[][] logits = decoder.step();
    long now = System.nanoTime();
    List<Choice> rows = decoder.rows();
    boolean[] leaving = new boolean[rows.size()];
    int tokens = 0;
    for (int i = 0; i < rows.size(); i++) {
      Choice c = rows.get(i);
      if (c.cancelled()) {
        leaving[i] = true;
        metrics.cancelled();
        continue;
      }
      int token = c.draw(logits[i], scratch);
      Choice.Delta d = c.take(token, logits[i], tokenizer);
      tokens++;
      if (c.generated() == 1) {
        metrics.firstToken((now - c.request().arrivedNanos()) / 1e9);
      } else {
        metrics.nextToken((now - lastStepEnd) / 1e9);
      }
      if (!d.text().isEmpty() || !d.tokens().isEmpty() || d.finishReason() != null) {
        c.request().send(d);
      }
      if (d.finishReason() != null) {
        leaving[i] = true;
      } else {
        decoder.feed(i, token);
      }
    }
    metrics.generated(tokens, now);
    for (int i = rows.size() - 1; i >= 0; i--) { // the last row moves into a freed slot
      if (leaving[i]) {
        decoder.leave(i);
      }
    }
    lastStepEnd = System.nanoTime();
  }

  private static void fail(Completion c, ApiError e) {
    c.fail(e);
  }
}
