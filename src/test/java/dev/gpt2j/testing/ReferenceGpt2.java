package dev.gpt2j.testing;

import dev.gpt2j.model.HParams;
import java.util.Map;

/**
 * GPT-2's forward pass in float64 with plain arrays, written from openai/gpt-2 model.py: the
 * independent computation the TF graph is checked against. Weights are OpenAI's tensors by name.
 */
public final class ReferenceGpt2 {
  private final HParams hp;
  private final Map<String, float[]> w;

  public ReferenceGpt2(HParams hp, Map<String, float[]> weights) {
    this.hp = hp;
    this.w = weights;
  }

  /** logits [T][n_vocab] for one sequence. */
  public double[][] logits(int[] tokens) {
    int t = tokens.length;
    int c = hp.nEmbd();
    double[][] x = new double[t][c];
    float[] wte = w.get("model/wte");
    float[] wpe = w.get("model/wpe");
    for (int i = 0; i < t; i++) {
      for (int j = 0; j < c; j++) {
        x[i][j] = wte[tokens[i] * c + j] + (double) wpe[i * c + j];
      }
    }
    for (int layer = 0; layer < hp.nLayer(); layer++) {
      String s = "model/h" + layer + "/";
      double[][] a = attention(layerNorm(x, s + "ln_1"), s + "attn/");
      add(x, a);
      double[][] m =
          conv1d(gelu(conv1d(layerNorm(x, s + "ln_2"), s + "mlp/c_fc")), s + "mlp/c_proj");
      add(x, m);
    }
    x = layerNorm(x, "model/ln_f");
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
    int c = hp.nEmbd();
    int nh = hp.nHead();
    int d = c / nh;
    double[][] qkv = conv1d(x, scope + "c_attn");
    double[][] merged = new double[t][c];
    for (int h = 0; h < nh; h++) {
      for (int i = 0; i < t; i++) {
        double[] scores = new double[t];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= i; j++) { // causal: later positions get weight exp(-1e10) = 0
          double dot = 0;
          for (int k = 0; k < d; k++) {
            dot += qkv[i][h * d + k] * qkv[j][c + h * d + k];
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
            merged[i][h * d + k] += scores[j] / sum * qkv[j][2 * c + h * d + k];
          }
        }
      }
    }
    return conv1d(merged, scope + "c_proj");
  }

  private double[][] conv1d(double[][] x, String scope) {
    float[] wt = w.get(scope + "/w");
    float[] b = w.get(scope + "/b");
    int nx = x[0].length;
    int nf = b.length;
    double[][] y = new double[x.length][nf];
    for (int i = 0; i < x.length; i++) {
      for (int f = 0; f < nf; f++) {
        double acc = b[f];
        for (int k = 0; k < nx; k++) {
          acc += x[i][k] * wt[k * nf + f];
        }
        y[i][f] = acc;
      }
    }
    return y;
  }

  private double[][] layerNorm(double[][] x, String scope) {
    float[] g = w.get(scope + "/g");
    float[] b = w.get(scope + "/b");
    double[][] y = new double[x.length][];
    for (int i = 0; i < x.length; i++) {
      y[i] = layerNorm(x[i], g, b);
    }
    return y;
  }

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
      y[j] = (x[j] - u) / Math.sqrt(s + 1e-5) * g[j] + b[j];
    }
    return y;
  }

  public static double gelu(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }

  private static double[][] gelu(double[][] x) {
    double[][] y = new double[x.length][x[0].length];
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[0].length; j++) {
        y[i][j] = gelu(x[i][j]);
      }
    }
    return y;
  }

  private static void add(double[][] x, double[][] y) {
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[0].length; j++) {
        x[i][j] += y[i][j];
      }
    }
  }
}
