package dev.gpt2j.testing;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.sampling.Decoder;
import dev.gpt2j.sampling.DecodingGraph;
import java.nio.file.Path;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;

/**
 * A model directory's decoding step, built from the sampling package's public parts as a program of
 * its own would: for tests of the step's logits token by token through the KV cache.
 */
public final class DecodingSteps implements AutoCloseable {
  private final Graph graph = new Graph();
  private final Session session;
  private final Decoder decoder;

  public DecodingSteps(Path dir, DType dtype) {
    HParams hp = ModelDir.hparams(dir);
    Ops tf = Ops.create(graph);
    ModelVariables model = ModelVariables.create(tf, hp, dtype);
    CheckpointIO io = new CheckpointIO(tf, model.all());
    decoder = new Decoder(session = new Session(graph), new DecodingGraph(tf, hp, model.params()));
    io.restore(session, ModelDir.latestCheckpoint(dir));
    decoder.weightsChanged();
  }

  /**
   * The logits of each position of {@code tokens}, fed one at a time ({@link Decoder#stepLogits}).
   */
  public float[][] logits(int[] tokens) {
    return decoder.stepLogits(tokens);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
