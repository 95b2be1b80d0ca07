package dev.gpt2j.train.graph;

import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.model.Params;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Which weights a training step updates, and the view of them its forward pass computes with. The
 * classes of this package that build a step share these; it imports none of them.
 */
public final class TrainingWeights {
  private TrainingWeights() {}

  /** Units of zero weight added to each MLP's hidden layer when {@link #mlpPadded} holds. */
  public static final int MLP_PADDING = 8;

  /**
   * Whether the training graph widens each MLP's hidden layer by {@link #MLP_PADDING} units: when a
   * hidden row is a multiple of 4 KB (n_embd 768: 3072 floats), the products with K = that width
   * run far slower here, from cache-set aliasing (docs/benchmarks.md, "Training").
   */
  public static boolean mlpPadded(HParams hp) {
    return 4L * hp.nEmbd() * Float.BYTES % 4096 == 0;
  }

  /** The weights training updates: all of them, or all but the embeddings (wte and wpe). */
  public static List<Variable> trainable(ModelVariables model, boolean embeddings) {
    return model.all().stream()
        .filter(v -> embeddings || !(v.name().equals("model/wte") || v.name().equals("model/wpe")))
        .toList();
  }

  // The same weights with each MLP's hidden layer widened by MLP_PADDING units of zero weight and
  // bias when mlpPadded: gelu(0) = 0, so the output and every real gradient are unchanged; the
  // padding costs two small copies per layer.
  static Params paddedMlp(Ops tf, HParams hp, Params p) {
    if (!mlpPadded(hp)) {
      return p;
    }
    Operand<TFloat32> zero = tf.constant(0f);
    Operand<TInt32> widenColumns = tf.constant(new int[][] {{0, 0}, {0, 0}, {0, MLP_PADDING}});
    Operand<TInt32> widenRows = tf.constant(new int[][] {{0, 0}, {0, MLP_PADDING}, {0, 0}});
    List<Params.Block> blocks = new ArrayList<>();
    for (Params.Block b : p.h()) {
      Params.Linear fc = b.mlp().cFc();
      Params.Linear proj = b.mlp().cProj();
      Params.Mlp wide =
          new Params.Mlp(
              new Params.Linear(
                  tf.pad(DType.float32(tf, fc.w()), widenColumns, zero),
                  tf.pad(fc.b(), tf.constant(new int[][] {{0, MLP_PADDING}}), zero)),
              new Params.Linear(tf.pad(DType.float32(tf, proj.w()), widenRows, zero), proj.b()));
      blocks.add(new Params.Block(b.ln1(), b.attn(), b.ln2(), wide));
    }
    return new Params(p.wte(), p.wpe(), blocks, p.lnF());
  }
}
