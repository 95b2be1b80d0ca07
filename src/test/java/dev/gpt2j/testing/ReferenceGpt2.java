package dev.gpt2j.testing;

import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * GPT-2's forward pass in float64 with plain arrays, written from openai/gpt-2 model.py and, for
 * the rest of the family, from the formulas of issue 25 (RMSNorm, ReLU, SwiGLU, rotary positions,
 * grouped-query attention, no biases, mixtures of experts): the independent computation the TF
 * graph is checked against. Weights are the checkpoint's tensors by name.
 */
public final class ReferenceGpt2 {
  private final HParams hp;
  private final Architecture arch;
  private final Map<String, float[]> w;

  /**
   * A mixture's routing over every token a {@link #logits} call saw: per layer, how many of the
   * token-slots went to each expert, and the router's probabilities summed.
   */
  public static final class Routing {
    final double[][] slots;
    final double[][] probabilities;
    int tokens;

    public Routing(HParams hp) {
      slots = new double[hp.nLayer()][hp.arch().moeExperts()];
      probabilities = new double[hp.nLayer()][hp.arch().moeExperts()];
    }

    /** Switch Transformer's E sum_e f_e P_e, each layer's, averaged over layers. */
    public double loadBalancingLoss(int topK) {
      double sum = 0;
      for (int l = 0; l < slots.length; l++) {
        int e = slots[l].length;
        for (int i = 0; i < e; i++) {
          sum += e * (slots[l][i] / ((double) tokens * topK)) * (probabilities[l][i] / tokens);
        }
      }
      return sum / slots.length;
    }
  }

  public ReferenceGpt2(HParams hp, Map<String, float[]> weights) {
    this.hp = hp;
    this.arch = hp.arch();
    this.w = weights;
  }

  /** logits [T][n_vocab] for one sequence. */
  public double[][] logits(int[] tokens) {
    return logits(tokens, arch.moe() ? new Routing(hp) : null);
  }

  /** The same, adding a mixture's routing statistics to {@code routing}. */
  public double[][] logits(int[] tokens, Routing routing) {
    int t = tokens.length;
    int c = hp.nEmbd();
    double[][] x = new double[t][c];
    float[] wte = w.get("model/wte");
    float[] wpe = w.get("model/wpe");
    for (int i = 0; i < t; i++) {
      for (int j = 0; j < c; j++) {
        x[i][j] = wte[tokens[i] * c + j] + (wpe == null ? 0 : (double) wpe[i * c + j]);
      }
    }
    if (routing != null) {
      routing.tokens += t;
    }
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      String s = "model/h" + layer + "/";
      add(x, attention(norm(x, s + "ln_1"), s + "attn/"));
      double[][] n = norm(x, s + "ln_2");
      add(x, arch.moe() ? mixture(n, s + "mlp/", layer, routing) : mlp(n, s + "mlp/", -1));
    }
    x = norm(x, "model/ln_f");
    double[][] logits = new double[t][hp.nVocab()];
    for (int i = 0; i < t; i++) {
      for (int v = 0; v < hp.nVocab(); v++) {
        double acc = 0;
        for (int j = 0; j < c; j++) {
          acc += x[i][j] * wte[v * c + j];
        }
        logits[i][v] = acc;
      }
    }
    return logits;
  }

  private double[][] attention(double[][] x, String scope) {
    int t = x.length;
    int nh = hp.nHead();
    int nkv = hp.nKvHead();
    int d = hp.nEmbd() / nh;
    double[][] qkv = conv1d(x, scope + "c_attn", -1);
    int kAt = nh * d; // columns: q of every head, then k, then v of every key/value head
    int vAt = kAt + nkv * d;
    if (arch.position() == Architecture.Position.ROPE) {
      for (int i = 0; i < t; i++) {
        for (int h = 0; h < nh; h++) {
          rotate(qkv[i], h * d, d, i);
        }
        for (int h = 0; h < nkv; h++) {
          rotate(qkv[i], kAt + h * d, d, i);
        }
      }
    }
    double[][] merged = new double[t][nh * d];
    for (int h = 0; h < nh; h++) {
      int kv = h / (nh / nkv);
      for (int i = 0; i < t; i++) {
        double[] scores = new double[t];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= i; j++) { // causal: later positions get weight exp(-1e10) = 0
          double dot = 0;
          for (int k = 0; k < d; k++) {
            dot += qkv[i][h * d + k] * qkv[j][kAt + kv * d + k];
          }
          scores[j] = dot / Math.sqrt(d);
          max = Math.max(max, scores[j]);
        }
        double sum = 0;
        for (int j = 0; j <= i; j++) {
          scores[j] = Math.exp(scores[j] - max);
          sum += scores[j];
        }
        for (int j = 0; j <= i; j++) {
          for (int k = 0; k < d; k++) {
            merged[i][h * d + k] += scores[j] / sum * qkv[j][vAt + kv * d + k];
          }
        }
      }
    }
    return conv1d(merged, scope + "c_proj", -1);
  }

  // rotate-half: the pair (x_i, x_{i+d/2}) of the head at `at` turned by p * theta^(-2i/d)
  private void rotate(double[] row, int at, int d, int p) {
    for (int i = 0; i < d / 2; i++) {
      double angle = p * Math.pow(arch.ropeTheta(), -2.0 * i / d);
      double a = row[at + i];
      double b = row[at + i + d / 2];
      row[at + i] = a * Math.cos(angle) - b * Math.sin(angle);
      row[at + i + d / 2] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }

  // expert -1: the dense MLP
  private double[][] mlp(double[][] x, String scope, int expert) {
    double[][] h = conv1d(x, scope + "c_fc", expert);
    double[][] gate =
        arch.mlp() == Architecture.Mlp.SWIGLU ? conv1d(x, scope + "c_gate", expert) : null;
    for (int i = 0; i < h.length; i++) {
      for (int j = 0; j < h[0].length; j++) {
        h[i][j] =
            switch (arch.mlp()) {
              case GELU -> gelu(h[i][j]);
              case RELU -> Math.max(0, h[i][j]);
              case SWIGLU -> gate[i][j] / (1 + Math.exp(-gate[i][j])) * h[i][j];
            };
      }
    }
    return conv1d(h, scope + "c_proj", expert);
  }

  // each token: its top-k experts by router logit (ties to the lower index), weighted by a softmax
  // over those k logits
  private double[][] mixture(double[][] x, String scope, int layer, Routing routing) {
    int e = arch.moeExperts();
    int c = hp.nEmbd();
    float[] router = w.get(scope + "router/w");
    double[][][] experts = new double[e][][];
    for (int k = 0; k < e; k++) {
      experts[k] = mlp(x, scope, k);
    }
    double[][] y = new double[x.length][c];
    for (int i = 0; i < x.length; i++) {
      double[] logits = new double[e];
      for (int k = 0; k < e; k++) {
        for (int j = 0; j < c; j++) {
          logits[k] += x[i][j] * router[j * e + k];
        }
      }
      Integer[] order = IntStream.range(0, e).boxed().toArray(Integer[]::new);
      Arrays.sort(order, Comparator.comparingDouble((Integer k) -> -logits[k]));
      Integer[] top = Arrays.copyOf(order, arch.moeTopK());
      double max = logits[top[0]];
      double z = 0;
      for (int k : top) {
        z += Math.exp(logits[k] - max);
      }
      for (int k : top) {
        double weight = Math.exp(logits[k] - max) / z;
        for (int j = 0; j < c; j++) {
          y[i][j] += weight * experts[k][i][j];
        }
        if (routing != null) {
          routing.slots[layer][k]++;
        }
      }
      if (routing != null) {
        double all = 0;
        for (int k = 0; k < e; k++) {
          all += Math.exp(logits[k] - max);
        }
        for (int k = 0; k < e; k++) {
          routing.probabilities[layer][k] += Math.exp(logits[k] - max) / all;
        }
      }
    }
    return y;
  }

  // OpenAI's conv1d; `expert` >= 0 picks one of a mixture's stacked weights
  private double[][] conv1d(double[][] x, String scope, int expert) {
    float[] wt = w.get(scope + "/w");
    float[] b = w.get(scope + "/b");
    int nx = x[0].length;
    int nf = wt.length / (nx * Math.max(1, arch.moeExperts() * (expert >= 0 ? 1 : 0)));
    int wAt = Math.max(0, expert) * nx * nf;
    int bAt = Math.max(0, expert) * nf;
    double[][] y = new double[x.length][nf];
    for (int i = 0; i < x.length; i++) {
      for (int f = 0; f < nf; f++) {
        double acc = b == null ? 0 : b[bAt + f];
        for (int k = 0; k < nx; k++) {
          acc += x[i][k] * wt[wAt + k * nf + f];
        }
        y[i][f] = acc;
      }
    }
    return y;
  }

  private double[][] norm(double[][] x, String scope) {
    float[] g = w.get(scope + "/g");
    float[] b = w.get(scope + "/b");
    double[][] y = new double[x.length][];
    for (int i = 0; i < x.length; i++) {
      y[i] = arch.norm() == Architecture.Norm.RMSNORM ? rmsNorm(x[i], g) : layerNorm(x[i], g, b);
    }
    return y;
  }

  /** Layer norm, eps 1e-5; {@code b} null: no bias. */
  public static double[] layerNorm(double[] x, float[] g, float[] b) {
    double u = 0;
    for (double v : x) {
      u += v;
    }
    u /= x.length;
    double s = 0;
    for (double v : x) {
      s += (v - u) * (v - u);
    }
    s /= x.length;
    double[] y = new double[x.length];
    for (int j = 0; j < x.length; j++) {
      y[j] = (x[j] - u) / Math.sqrt(s + 1e-5) * g[j] + (b == null ? 0 : b[j]);
    }
    return y;
  }

  /** x / sqrt(mean(x^2) + 1e-5) * g. */
  static double[] rmsNorm(double[] x, float[] g) {
    double ms = 0;
    for (double v : x) {
      ms += v * v;
    }
    ms /= x.length;
    double[] y = new double[x.length];
    for (int j = 0; j < x.length; j++) {
      y[j] = x[j] / Math.sqrt(ms + 1e-5) * g[j];
    }
    return y;
  }

  public static double gelu(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }

  private static void add(double[][] x, double[][] y) {
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[0].length; j++) {
        x[i][j] += y[i][j];
      }
    }
  }
}
