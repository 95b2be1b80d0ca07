package dev.gpt2j;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.checkpoint.Initializer;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.checkpoint.ModelSource;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.sampling.ContinuationScorer;
import dev.gpt2j.sampling.Decoder;
import dev.gpt2j.sampling.DecodingGraph;
import dev.gpt2j.sampling.RowDecoder;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.sampling.Scorer;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.IntConsumer;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;

/**
 * GPT-2 for Java users: loads an OpenAI model directory, generates and scores text, and writes
 * itself back in OpenAI's layout. Owns a TF graph (built once) and session; close when done.
 *
 * <pre>{@code
 * try (Gpt2Model gpt2 = Gpt2Model.load(Path.of("checkpoints/124M"))) {
 *   Generation g = gpt2.generate("Alan Turing theorized that", SampleOptions.greedy(8)).get(0);
 *   System.out.println(g.text());
 * }
 * }</pre>
 */
public final class Gpt2Model implements AutoCloseable {

  /** One sample: the prompt's tokens, the generated tokens, and their text. */
  public record Generation(int[] promptTokens, int[] tokens, String text) {}

  private final HParams hparams;
  private final Tokenizer tokenizer;
  private final DType dtype;
  private final Graph graph;
  private final Session session;
  private final ModelVariables variables;
  private final CheckpointIO checkpointIO;
  private final Initializer initializer; // null when the weights were restored
  private final DecodingGraph decoding;
  private final Decoder decoder;
  private final Ops tf;
  private Scorer scorer;
  private ContinuationScorer continuationScorer;

  /**
   * Sees a run's samples as they are made: each batch as it starts, each token as it is drawn
   * ({@link Decoder.Sink#accept}, with the sample's index), and each batch when it is done.
   */
  public interface Listener extends Decoder.Sink {
    default void batchStarted(int firstSample) {}

    default void batchDone(List<Generation> samples) {}
  }

  // One inter-op thread: a decoding step is a chain of ops, and TF's default inter-op pool only
  // competes for the cores with the native kernels' OpenMP threads (docs/benchmarks.md,
  // "Sampling"). Each op still uses every core.
  private static final ConfigProto SESSION_CONFIG =
      ConfigProto.newBuilder().setInterOpParallelismThreads(1).build();

  /**
   * Builds the graph. With {@code restoreFrom}, the checkpoint is restored on another thread while
   * the rest of the graph is built: reading the weights and adding the graph's ops take about as
   * long (docs/benchmarks.md, "Sampling").
   */
  private Gpt2Model(HParams hparams, Tokenizer tokenizer, Path restoreFrom, DType dtype) {
    this.hparams = hparams;
    this.tokenizer = tokenizer;
    this.dtype = dtype;
    this.graph = new Graph();
    Session created = null;
    try {
      tf = Ops.create(graph);
      variables = ModelVariables.create(tf, hparams, dtype);
      checkpointIO = new CheckpointIO(tf, variables.all());
      created = new Session(graph, SESSION_CONFIG);
      session = created;
      CompletableFuture<Void> restoring =
          restoreFrom == null
              ? CompletableFuture.completedFuture(null)
              : CompletableFuture.runAsync(() -> checkpointIO.restore(session, restoreFrom));
      try {
        initializer = restoreFrom == null ? new Initializer(tf, variables) : null;
        decoding = new DecodingGraph(tf, hparams, variables.params());
        decoder = new Decoder(session, decoding);
      } finally {
        join(restoring);
      }
      if (restoreFrom != null) {
        decoder.weightsChanged();
      }
    } catch (RuntimeException e) {
      if (created != null) {
        created.close();
      }
      graph.close();
      throw e;
    }
  }

  private static void join(CompletableFuture<Void> f) {
    try {
      f.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }

  /**
   * Loads an OpenAI-layout model directory (the checkpoint its {@code checkpoint} file names); its
   * text goes through the directory's chars.json if it has one, else GPT-2's BPE.
   */
  public static Gpt2Model load(Path dir) {
    return load(dir, DType.FLOAT32);
  }

  /**
   * The same, holding the weight matrices in {@code dtype}: bfloat16 halves their memory and the
   * bytes each decoding step reads; products then round activations to bfloat16 too, except in the
   * native matrix-vector kernels, which widen the weights instead.
   */
  public static Gpt2Model load(Path dir, DType dtype) {
    return load(ModelSource.read(dir), dtype);
  }

  /** The same, from a directory already read. */
  public static Gpt2Model load(ModelSource source, DType dtype) {
    return new Gpt2Model(source.hparams(), source.tokenizer(), source.checkpoint(), dtype);
  }

  /** A model of shape {@code hp} with the weights of the checkpoint at {@code prefix}. */
  public static Gpt2Model open(HParams hp, Path prefix) {
    return open(hp, prefix, DType.FLOAT32);
  }

  /** The same in {@code dtype}. */
  public static Gpt2Model open(HParams hp, Path prefix, DType dtype) {
    return new Gpt2Model(hp, Tokenizer.GPT2, prefix, dtype);
  }

  /** A freshly initialised model with OpenAI's initialisers, reproducible from {@code seed}. */
  public static Gpt2Model fresh(HParams hp, long seed) {
    Gpt2Model model = new Gpt2Model(hp, Tokenizer.GPT2, null, DType.FLOAT32);
    try {
      model.initializer.run(model.session, seed);
      model.decoder.weightsChanged();
      return model;
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** Writes this model as a new OpenAI-layout directory (atomic: all of it or nothing). */
  public void save(Path dir) {
    ModelDir.writeNew(dir, hparams, tokenizer, prefix -> checkpointIO.save(session, prefix));
  }

  public HParams hparams() {
    return hparams;
  }

  /** How its text becomes tokens and back. */
  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /** The dtype its weight matrices are held in. */
  public DType dtype() {
    return dtype;
  }

  /** Samples after {@code prompt} (text; encoded with the model's {@link #tokenizer}). */
  public List<Generation> generate(String prompt, SampleOptions options) {
    return generate(tokenizer.encode(prompt), options, (sample, token) -> {});
  }

  /**
   * All {@code nSamples} samples, {@code batchSize} at a time (one graph run per step for a whole
   * batch); {@code listener} sees them as they are made.
   */
  public List<Generation> generate(int[] prompt, SampleOptions options, Listener listener) {
    int[][] prompts = new int[options.nSamples()][];
    Arrays.fill(prompts, prompt);
    return generateEach(prompts, options, options.batchSize(), listener);
  }

  /** The weights as they are, by OpenAI's tensor names, as float32 (what {@link #save} writes). */
  public Map<String, float[]> weights() {
    return checkpointIO.values(session);
  }

  /** Full logits [B, T, n_vocab] for a batch of equal-length token rows. */
  public float[][][] logits(int[][] batch) {
    return scorer().logits(batch);
  }

  /** log p(tokens[i+1] | tokens[..i]) for every i ({@link Scorer#score}: windows past n_ctx). */
  public double[] score(int[] ids) {
    return scorer().score(ids);
  }

  /** The same, telling {@code progress} how many tokens are scored so far, window by window. */
  public double[] score(int[] ids, IntConsumer progress) {
    return scorer().score(ids, progress);
  }

  /**
   * One sample after each of {@code prompts}, {@code batchRows} prompts at a time, each row after
   * its own prompt (prompts of different lengths share a batch); {@code listener} sees each token
   * with the index of its prompt.
   */
  public List<Generation> generateEach(
      int[][] prompts, SampleOptions options, int batchRows, Listener listener) {
    List<Generation> all = new ArrayList<>();
    int length = options.lengthFor(hparams.nCtx());
    for (int first = 0; first < prompts.length; first += batchRows) {
      int[][] batch =
          Arrays.copyOfRange(prompts, first, Math.min(first + batchRows, prompts.length));
      int offset = first;
      listener.batchStarted(first);
      int[][] out =
          decoder.generate(
              batch,
              options,
              length,
              first / batchRows,
              (row, token) -> listener.accept(offset + row, token));
      List<Generation> done = new ArrayList<>();
      for (int r = 0; r < out.length; r++) {
        done.add(new Generation(batch[r].clone(), out[r], tokenizer.decode(out[r])));
      }
      listener.batchDone(done);
      all.addAll(done);
    }
    return all;
  }

  /**
   * Continuous batching: rows that join and leave between steps, each after its own prompt (what
   * {@code serve} runs). It takes over the model's KV cache, sized for {@code maxRows} rows of
   * n_ctx: do not {@link #generate} while it is in use.
   */
  public <R> RowDecoder<R> rowDecoder(int maxRows) {
    return new RowDecoder<>(session, decoding, maxRows);
  }

  // built when first used: sampling never needs it (a session takes in ops added after it was made)
  private synchronized Scorer scorer() {
    if (scorer == null) {
      scorer = new Scorer(tf, hparams, variables.params(), session);
    }
    return scorer;
  }

  /**
   * Scores continuations after shared prefixes, many at once (what {@code eval} runs); built when
   * first used, as the scorer.
   */
  public synchronized ContinuationScorer continuationScorer() {
    if (continuationScorer == null) {
      continuationScorer = new ContinuationScorer(tf, hparams, variables.params(), session);
    }
    return continuationScorer;
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
