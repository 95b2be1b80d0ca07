package dev.gpt2j.train.graph;

import dev.gpt2j.model.Gpt2;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.model.Params;
import dev.gpt2j.model.Product;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
  private final Gpt2.Pass pass;

  /** The residual stream entering each block, then leaving the last one. */
  private final List<Operand<TFloat32>> residuals = new ArrayList<>();

  /** Each block's load-balancing loss (a mixture of experts' only). */
  private final List<Operand<TFloat32>> blockAux = new ArrayList<>();

  /** The final hidden states after ln_f, [B, T, C]. */
  final Operand<TFloat32> h;

  /** The mean over blocks of the load-balancing loss; null for dense MLPs. */
  final Operand<TFloat32> aux;

  Backward(
      Graph graph,
      Ops tf,
      HParams hp,
      Operand<TInt32> tokens,
      Params params,
      boolean recompute,
      Product product,
      Gpt2.Dropout dropout) {
    this.graph = graph;
    this.tf = tf;
    this.hp = hp;
    this.params = params;
    this.recompute = recompute;
    // gpt2()'s forward pass as far as h, keeping the residual stream entering each block
    Ops model = tf.withSubScope("model");
    pass = Gpt2.Pass.of(model, hp, tokens, null, product, dropout);
    Operand<TFloat32> x = Gpt2.embeddings(model, tokens, params, pass);
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      residuals.add(x);
      Gpt2.BlockOut out = block(model, layer, x);
      x = out.x();
      if (out.aux() != null) {
        blockAux.add(out.aux());
      }
    }
    residuals.add(x);
    h = Gpt2.norm(model.withSubScope("ln_f"), x, params.lnF(), hp.arch());
    aux = Gpt2.meanOf(model, blockAux);
  }

  // [B, T, C] -> [B, T, C]: transformer block `layer`, built in scope tf/h{layer}
  private Gpt2.BlockOut block(Ops tf, int layer, Operand<TFloat32> x) {
    return Gpt2.transformerBlock(
        tf.withSubScope("h" + layer), x, params.h().get(layer), layer, pass);
  }

  /**
   * d loss / d each of {@code wrt} (in its order), given {@code dH} = d loss / d h and, for a
   * mixture of experts, the weight of {@link #aux} in the loss.
   */
  List<Operand<TFloat32>> gradients(Operand<TFloat32> dH, double auxWeight, List<Variable> wrt) {
    Map<String, Operand<TFloat32>> byName =
        recompute ? blockByBlock(dH, auxWeight, wrt) : throughTheStack(dH, auxWeight, wrt);
    List<Operand<TFloat32>> out = new ArrayList<>();
    for (Variable v : wrt) {
      out.add(byName.get(v.name()));
    }
    return out;
  }

  private Map<String, Operand<TFloat32>> throughTheStack(
      Operand<TFloat32> dH, double auxWeight, List<Variable> wrt) {
    Map<String, Operand<TFloat32>> out = new HashMap<>();
    backprop(null, withAux(h, dH, aux, auxWeight), null, wrt, out);
    return out;
  }

  private Map<String, Operand<TFloat32>> blockByBlock(
      Operand<TFloat32> dH, double auxWeight, List<Variable> wrt) {
    Map<String, Operand<TFloat32>> out = new HashMap<>();
    Operand<TFloat32> g =
        backprop(
            "backprop/ln_f",
            Map.of(h, dH),
            residuals.get(hp.nLayer()),
            of(wrt, "model/ln_f/"),
            out);
    Ops recomputed = tf.withSubScope("recompute");
    for (int layer = hp.nLayer() - 1; layer >= 0; layer--) {
      // the control edge holds the block's second forward pass back until its gradient exists
      Operand<TFloat32> input =
          recomputed
              .withSubScope("h" + layer)
              .withControlDependencies(List.<Op>of(g))
              .identity(residuals.get(layer));
      Gpt2.BlockOut y = block(recomputed, layer, input);
      // the mean over blocks: each block's loss weighs auxWeight / n_layer
      g =
          backprop(
              "backprop/h" + layer,
              withAux(y.x(), g, y.aux(), auxWeight / hp.nLayer()),
              input,
              of(wrt, "model/h" + layer + "/"),
              out);
    }
    List<Variable> embeddings = new ArrayList<>(of(wrt, ModelVariables.WTE));
    embeddings.addAll(of(wrt, ModelVariables.WPE));
    if (!embeddings.isEmpty()) {
      backprop("backprop/embeddings", Map.of(residuals.get(0), g), null, embeddings, out);
    }
    return out;
  }

  // the outputs to differentiate and their seeds: y with dy, and aux (if any) with its weight
  private Map<Operand<TFloat32>, Operand<TFloat32>> withAux(
      Operand<TFloat32> y, Operand<TFloat32> dy, Operand<TFloat32> aux, double weight) {
    Map<Operand<TFloat32>, Operand<TFloat32>> seeds = new LinkedHashMap<>();
    seeds.put(y, dy);
    if (aux != null && weight != 0) {
      seeds.put(aux, tf.constant((float) weight));
    }
    return seeds;
  }

  private static List<Variable> of(List<Variable> wrt, String prefix) {
    return wrt.stream().filter(v -> v.name().startsWith(prefix)).toList();
  }

  // d/d vars of the outputs seeded with their dy, into `out` by variable name; returns d/d input
  // (null if none)
  @SuppressWarnings("unchecked")
  private Operand<TFloat32> backprop(
      String prefix,
      Map<Operand<TFloat32>, Operand<TFloat32>> seeds,
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
            seeds.keySet().stream().map(Operand::asOutput).toArray(Output<?>[]::new),
            x.toArray(Output<?>[]::new),
            seeds.values().stream().map(Operand::asOutput).toArray(Output<?>[]::new));
    int first = input != null ? 1 : 0;
    for (int i = 0; i < vars.size(); i++) {
      out.put(vars.get(i).name(), (Operand<TFloat32>) g[first + i]);
    }
    return input != null ? (Operand<TFloat32>) g[0] : null;
  }
}
