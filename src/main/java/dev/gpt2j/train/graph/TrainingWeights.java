package dev.gpt2j.train.graph;

import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.MlpPadding;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.model.Params;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * Which weights a training step updates, and the view of them its forward pass computes with. The
 * classes of this package that build a step share these; it imports none of them.
 */
public final class TrainingWeights {
  private TrainingWeights() {}

  /** The weights training updates: all of them, or all but the embeddings (wte and wpe). */
  public static List<Variable> trainable(ModelVariables model, boolean embeddings) {
    return model.all().stream().filter(v -> embeddings || !v.spec().embedding()).toList();
  }

  // The same weights with each MLP's hidden layer widened by MlpPadding.UNITS units of zero weight
  // and
  // bias when MlpPadding applies: gelu(0) = relu(0) = silu(0) = 0, so the output and every real
  // gradient
  // are unchanged; the padding costs two or three small copies per layer.
  static Params paddedMlp(Ops tf, HParams hp, Params p) {
    if (!MlpPadding.applies(hp)) {
      return p;
    }
    List<Params.Block> blocks = new ArrayList<>();
    for (Params.Block b : p.h()) {
      Params.Mlp m = b.mlp();
      Params.Mlp wide =
          new Params.Mlp(
              widerOutput(tf, m.cFc()),
              m.cGate() == null ? null : widerOutput(tf, m.cGate()),
              new Params.Linear(
                  pad(tf, m.cProj().w(), new int[][] {{0, 0}, {0, MlpPadding.UNITS}, {0, 0}}),
                  m.cProj().b()),
              null);
      blocks.add(new Params.Block(b.ln1(), b.attn(), b.ln2(), wide));
    }
    return new Params(p.wte(), p.wpe(), blocks, p.lnF());
  }

  // a linear layer with MlpPadding.UNITS more output columns of zeros
  private static Params.Linear widerOutput(Ops tf, Params.Linear l) {
    return new Params.Linear(
        pad(tf, l.w(), new int[][] {{0, 0}, {0, 0}, {0, MlpPadding.UNITS}}),
        l.b() == null ? null : pad(tf, l.b(), new int[][] {{0, MlpPadding.UNITS}}));
  }

  private static Operand<TFloat32> pad(Ops tf, Operand<? extends TNumber> x, int[][] widths) {
    return tf.pad(DType.float32(tf, x), tf.constant(widths), tf.constant(0f));
  }
}
