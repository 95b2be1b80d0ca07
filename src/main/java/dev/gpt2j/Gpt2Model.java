package dev.gpt2j;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import java.nio.file.Path;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * A GPT-2 model in a TF graph and session: loads OpenAI's model directories, scores and samples
 * text, and writes itself back in OpenAI's layout. Build once, use many times; close when done.
 *
 * <pre>{@code
 * try (Gpt2Model gpt2 = Gpt2Model.load(Path.of("checkpoints/124M"))) {
 *   double[] logprobs = gpt2.score(gpt2.tokenizer().encode("Hello, world"));
 * }
 * }</pre>
 */
public final class Gpt2Model implements AutoCloseable {
  private final HParams hparams;
  private final Graph graph;
  private final Session session;
  private final ModelVariables variables;
  private final CheckpointIO checkpointIO;
  private final Placeholder<TInt64> initSeed;
  private final Op initializer;
  private final Placeholder<TInt32> tokens;
  private final Operand<TFloat32> logits;
  private final Operand<TFloat32> logprobs;

  private Gpt2Model(HParams hparams) {
    this.hparams = hparams;
    this.graph = new Graph();
    try {
      Ops tf = Ops.create(graph);
      variables = ModelVariables.create(tf, hparams);
      checkpointIO = new CheckpointIO(tf, variables.all());
      initSeed = tf.withName("init_seed").placeholder(TInt64.class);
      initializer = variables.initializer(initSeed);
      Ops score = tf.withSubScope("score");
      tokens = score.withName("tokens").placeholder(TInt32.class,
          Placeholder.shape(Shape.of(-1, -1)));
      logits = Gpt2.gpt2(tf, hparams, tokens, variables.params(), null).logits();
      // logits at position i predict token i+1: logits[:, :-1] against tokens[:, 1:]
      logprobs = Gpt2.logprobs(score,
          score.stridedSlice(logits, Indices.all(), Indices.sliceTo(-1)),
          score.stridedSlice(tokens, Indices.all(), Indices.sliceFrom(1)));
      session = new Session(graph);
    } catch (RuntimeException e) {
      graph.close();
      throw e;
    }
  }

  /** Loads an OpenAI-layout model directory (the one {@code checkpoint} points at). */
  public static Gpt2Model load(Path dir) {
    HParams hp = ModelDir.hparams(dir);
    Path prefix = ModelDir.latestCheckpoint(dir);
    Gpt2Model model = new Gpt2Model(hp);
    try {
      model.checkpointIO.restore(model.session, prefix);
      return model;
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** A freshly initialised model with OpenAI's initialisers, reproducible from {@code seed}. */
  public static Gpt2Model fresh(HParams hp, long seed) {
    Gpt2Model model = new Gpt2Model(hp);
    try (TInt64 s = TInt64.scalarOf(seed)) {
      model.session.runner().feed(model.initSeed, s).addTarget(model.initializer).run().close();
      return model;
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** Writes this model as a new OpenAI-layout directory (atomic: all of it or nothing). */
  public void save(Path dir, Path tokenizerSource) {
    ModelDir.writeNew(dir, hparams, prefix -> checkpointIO.save(session, prefix), tokenizerSource);
  }

  public HParams hparams() {
    return hparams;
  }

  public ModelVariables variables() {
    return variables;
  }

  public Session session() {
    return session;
  }

  /** Full logits [B, T, n_vocab] for a batch of equal-length token rows. */
  public float[][][] logits(int[][] batch) {
    try (TInt32 t = tokenTensor(batch);
         Result r = session.runner().feed(tokens, t).fetch(logits).run()) {
      TFloat32 out = (TFloat32) r.get(0);
      float[][][] result = new float[batch.length][batch[0].length][hparams.nVocab()];
      for (int b = 0; b < batch.length; b++) {
        for (int i = 0; i < batch[0].length; i++) {
          out.get(b, i).copyTo(DataBuffers.of(result[b][i], false, false));
        }
      }
      return result;
    }
  }

  /**
   * log p(tokens[i+1] | tokens[..i]) for every i. Sequences longer than n_ctx are scored in
   * windows of n_ctx tokens that advance by n_ctx/2, each scoring only targets not yet scored,
   * so every target past the first window sees at least n_ctx/2 tokens of context.
   */
  public double[] score(int[] ids) {
    if (ids.length < 2) {
      throw new IllegalArgumentException("need at least 2 tokens to score, got " + ids.length);
    }
    double[] out = new double[ids.length - 1];
    int nCtx = hparams.nCtx();
    int scored = 1;  // index of the next target token
    int begin = 0;
    while (scored < ids.length) {
      int end = Math.min(begin + nCtx, ids.length);
      float[] window = scoreWindow(java.util.Arrays.copyOfRange(ids, begin, end));
      for (int target = scored; target < end; target++) {
        out[target - 1] = window[target - begin - 1];
      }
      scored = end;
      begin = end - nCtx / 2;
    }
    return out;
  }

  private float[] scoreWindow(int[] window) {
    try (TInt32 t = tokenTensor(new int[][] {window});
         Result r = session.runner().feed(tokens, t).fetch(logprobs).run()) {
      float[] lp = new float[window.length - 1];
      ((TFloat32) r.get(0)).get(0).copyTo(DataBuffers.of(lp, false, false));
      return lp;
    }
  }

  static TInt32 tokenTensor(int[][] batch) {
    int t = batch[0].length;
    int[] flat = new int[batch.length * t];
    for (int b = 0; b < batch.length; b++) {
      System.arraycopy(batch[b], 0, flat, b * t, t);
    }
    return TInt32.tensorOf(Shape.of(batch.length, t), DataBuffers.of(flat, true, false));
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
