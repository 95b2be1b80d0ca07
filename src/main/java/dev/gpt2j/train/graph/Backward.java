package dev.gpt2j.train.graph;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.Product;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The training forward pass up to the final hidden states h, and d loss / d the weights given d
 * loss / d h. Two ways, with the same result: TF's gradient registry over the whole stack, which
 * keeps every block's activations from the forward pass to the backward one; or (recompute) block
 * by block from the top, each block's forward pass built again from its saved input once the
 * gradient from above exists, so that only one block's activations live at a time (activation
 * checkpointing, as in Chen et al. 2016, one checkpoint per block).
 */
final class Backward {
  private final Graph graph;
  private final Ops tf;
  private final HParams hp;
  private final Params params;
  private final boolean recompute;
  private final Product product;

  /** The residual stream entering each block, then leaving the last one. */
  private final List<Operand<TFloat32>> residuals = new ArrayList<>();

  /** The final hidden states after ln_f, [B, T, C]. */
  final Operand<TFloat32> h;

  Backward(
      Graph graph,
      Ops tf,
      HParams hp,
      Operand<TInt32> tokens,
      Params params,
      boolean recompute,
      Product product) {
    this.graph = graph;
    this.tf = tf;
    this.hp = hp;
    this.params = params;
    this.recompute = recompute;
    this.product = product;
    // gpt2()'s forward pass as far as h, keeping the residual stream entering each block
    Ops model = tf.withSubScope("model");
    Operand<TFloat32> x = Gpt2.embeddings(model, tokens, model.constant(0), params);
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      residuals.add(x);
      x = block(model, layer, x);
    }
    residuals.add(x);
    h = Gpt2.layerNorm(model.withSubScope("ln_f"), x, params.lnF());
  }

  // [B, T, C] -> [B, T, C]: transformer block `layer`, built in scope tf/h{layer}
  private Operand<TFloat32> block(Ops tf, int layer, Operand<TFloat32> x) {
    Ops scope = tf.withSubScope("h" + layer);
    return Gpt2.transformerBlock(scope, x, params.h().get(layer), hp.nHead(), layer, null, product)
        .x();
  }

  /** d loss / d each of {@code wrt} (in its order), given {@code dH} = d loss / d h. */
  List<Operand<TFloat32>> gradients(Operand<TFloat32> dH, List<Variable> wrt) {
    Map<String, Operand<TFloat32>> byName =
        recompute ? blockByBlock(dH, wrt) : throughTheStack(dH, wrt);
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (Variable v : wrt) {
      out.add(byName.get(v.name()));
    }
    return out;
  }

  private Map<String, Operand<TFloat32>> throughTheStack(Operand<TFloat32> dH, List<Variable> wrt) {
    Map<String, Operand<TFloat32>> out = new HashMap<>();
    backprop(null, h, dH, null, wrt, out);
    return out;
  }

  private Map<String, Operand<TFloat32>> blockByBlock(Operand<TFloat32> dH, List<Variable> wrt) {
    Map<String, Operand<TFloat32>> out = new HashMap<>();
    Operand<TFloat32> g =
        backprop("backprop/ln_f", h, dH, residuals.get(hp.nLayer()), of(wrt, "model/ln_f/"), out);
    Ops recomputed = tf.withSubScope("recompute");
    for (int layer = hp.nLayer() - 1; layer >= 0; layer--) {
      // the control edge holds the block's second forward pass back until its gradient exists
      Operand<TFloat32> input =
          recomputed
              .withSubScope("h" + layer)
              .withControlDependencies(List.<Op>of(g))
              .identity(residuals.get(layer));
      Operand<TFloat32> y = block(recomputed, layer, input);
      g = backprop("backprop/h" + layer, y, g, input, of(wrt, "model/h" + layer + "/"), out);
    }
    List<Variable> embeddings = new ArrayList<>(of(wrt, "model/wte"));
    embeddings.addAll(of(wrt, "model/wpe"));
    if (!embeddings.isEmpty()) {
      backprop("backprop/embeddings", residuals.get(0), g, null, embeddings, out);
    }
    return out;
  }

  private static List<Variable> of(List<Variable> wrt, String prefix) {
    return wrt.stream().filter(v -> v.name().startsWith(prefix)).toList();
  }

  // d/d vars of y seeded with dy, into `out` by variable name; returns d/d input (null if none)
  @SuppressWarnings("unchecked")
  private Operand<TFloat32> backprop(
      String prefix,
      Operand<TFloat32> y,
      Operand<TFloat32> dy,
      Operand<TFloat32> input,
      List<Variable> vars,
      Map<String, Operand<TFloat32>> out) {
    List<Output<?>> x = new ArrayList<>();
    if (input != null) {
      x.add(input.asOutput());
    }
    vars.forEach(v -> x.add(v.value().asOutput()));
    Output<?>[] g =
        graph.addGradients(
            prefix == null ? null : tf.scope().makeUnique("train/" + prefix),
            new Output<?>[] {y.asOutput()},
            x.toArray(Output<?>[]::new),
            new Output<?>[] {dy.asOutput()});
    int first = input != null ? 1 : 0;
    for (int i = 0; i < vars.size(); i++) {
      out.put(vars.get(i).name(), (Operand<TFloat32>) g[first + i]);
    }
    return input != null ? (Operand<TFloat32>) g[0] : null;
  }
}
