package dev.gpt2j.testing;

import dev.gpt2j.checkpoint.CheckpointIO;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;

/** Tiny OpenAI-layout checkpoints for tests, with every tensor (biases, gains too) random. */
public final class TinyModels {
  private TinyModels() {}

  public static final HParams TINY = new HParams(97, 16, 24, 3, 2);

  /** Writes a model directory at {@code dir} and returns the weights it holds, by tensor name. */
  public static Map<String, float[]> writeRandom(Path dir, HParams hp, long seed) {
    Map<String, float[]> weights = random(hp, seed);
    write(dir, hp, weights);
    return weights;
  }

  /** Random values for every tensor of a model of shape {@code hp}: N(0, 0.3), gains N(1, 0.3). */
  public static Map<String, float[]> random(HParams hp, long seed) {
    Random random = new Random(seed);
    Map<String, float[]> weights = new LinkedHashMap<>();
    try (Graph g = new Graph()) {
      for (ModelVariables.Variable v : ModelVariables.create(Ops.create(g), hp).all()) {
        float[] values = new float[(int) v.size()];
        boolean gain = v.name().endsWith("/g");
        for (int i = 0; i < values.length; i++) {
          values[i] = (float) ((gain ? 1 : 0) + 0.3 * random.nextGaussian());
        }
        weights.put(v.name(), values);
      }
    }
    return weights;
  }

  /** Writes {@code weights} as an OpenAI-layout model directory. */
  public static void write(Path dir, HParams hp, Map<String, float[]> weights) {
    write(dir, hp, weights, Tokenizer.GPT2);
  }

  /** The same, with {@code tokenizer}'s files beside the checkpoint. */
  public static void write(
      Path dir, HParams hp, Map<String, float[]> weights, Tokenizer tokenizer) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      ModelVariables vars = ModelVariables.create(tf, hp);
      CheckpointIO io = new CheckpointIO(tf, vars.all());
      List<Op> assigns = new ArrayList<>();
      for (ModelVariables.Variable v : vars.all()) {
        assigns.add(
            tf.assignVariableOp(
                v.handle(),
                tf.constant(
                    Shape.of(v.shape()), DataBuffers.of(weights.get(v.name()), true, false))));
      }
      Op init = tf.withControlDependencies(assigns).noOp();
      try (Session s = new Session(g)) {
        s.run(init);
        ModelDir.writeNew(dir, hp, tokenizer, prefix -> io.save(s, prefix));
      }
    }
  }
}
