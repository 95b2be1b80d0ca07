package dev.gpt2j.train;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.model.DType;
import dev.gpt2j.util.TextFiles;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Everything a training run is told. Keys are nanoGPT's, snake_case, in a .properties file with
 * {@code --key=value} overrides on the command line. {@link #KEYS} is the one place defaults and
 * meanings live: the CLI help, the config files and the tests read it.
 */
public record TrainConfig(
    String initFrom,
    Path outDir,
    Path dataDir,
    int nLayer,
    int nHead,
    int nEmbd,
    int nCtx,
    int batchSize,
    int blockSize,
    int gradientAccumulationSteps,
    int maxIters,
    double learningRate,
    double beta1,
    double beta2,
    double weightDecay,
    int warmupIters,
    int lrDecayIters,
    double minLr,
    double gradClip,
    int evalInterval,
    int evalIters,
    int logInterval,
    int sampleInterval,
    int sampleLength,
    String samplePrompt,
    long seed,
    String xla,
    String recompute,
    boolean trainEmbeddings,
    String optimizer,
    DType dtype,
    boolean dryRun,
    Cluster cluster,
    Map<String, String> resolved) {

  public record Key(String defaultValue, String help) {}

  public static final Map<String, Key> KEYS = new LinkedHashMap<>();

  static {
    key(
        "init_from",
        "scratch",
        "scratch (a new model of n_layer/n_head/n_embd/n_ctx), resume "
            + "(continue the run in out_dir), or an OpenAI-layout model directory to fine-tune");
    key(
        "out_dir",
        "out/shakespeare",
        "where the model (OpenAI layout), optimiser state, metrics and " + "loss curve go");
    key(
        "data_dir",
        "data/shakespeare",
        "directory with train.bin and val.bin (the prepare command)");
    key("n_layer", "4", "transformer blocks (init_from=scratch)");
    key("n_head", "4", "attention heads (init_from=scratch)");
    key("n_embd", "128", "embedding width (init_from=scratch)");
    key("n_ctx", "64", "context length of the new model (init_from=scratch)");
    key("batch_size", "12", "sequences per micro-batch");
    key("block_size", "64", "tokens per sequence (<= n_ctx)");
    key("gradient_accumulation_steps", "1", "micro-batches per optimiser step");
    key("max_iters", "2000", "optimiser steps in all (a resumed run continues up to it)");
    key("learning_rate", "1e-3", "peak learning rate");
    key(
        "optimizer",
        "adamw",
        "adamw (two moments per weight, as nanoGPT) or adafactor (factored second moments, no "
            + "first moment, updates clipped to RMS 1: almost no state; pair it with grad_clip=0)");
    key(
        "dtype",
        "float32",
        "float32, or bfloat16: matrix products in bfloat16 (accumulated in float32) with float32 "
            + "weights, layer norms, softmax, loss and optimiser; checkpoints stay float32");
    key("beta1", "0.9", "AdamW beta1");
    key("beta2", "0.99", "AdamW beta2");
    key("weight_decay", "0.1", "decoupled weight decay, applied to matrices and embeddings only");
    key("warmup_iters", "100", "linear warm-up steps");
    key("lr_decay_iters", "2000", "cosine decay reaches min_lr at this step");
    key("min_lr", "1e-4", "learning rate after decay");
    key("grad_clip", "1.0", "clip gradients to this global norm; 0 = off");
    key(
        "eval_interval",
        "250",
        "steps between validation evaluations (and checkpoints); a value "
            + "above max_iters means only at the end");
    key("eval_iters", "20", "batches per loss estimate");
    key("log_interval", "10", "steps between progress lines");
    key("sample_interval", "500", "steps between printed samples; 0 = off");
    key("sample_length", "64", "tokens per printed sample");
    key("sample_prompt", "\\n", "prompt of printed samples (Java escapes: \\n is a newline)");
    key("seed", "1337", "seed for initialisation, batches and samples");
    key(
        "xla",
        "auto",
        "compile the training step with XLA (true, false); auto is true unless recompute is on: "
            + "XLA's clusters keep their own weight-sized buffers, which a run short of memory "
            + "cannot spare");
    key(
        "recompute",
        "auto",
        "true keeps only each transformer block's input from the forward pass and recomputes its "
            + "activations in the backward pass: activation memory of one block instead of all, "
            + "for about a third more compute; auto turns it on when holding every block's "
            + "activations would take the run past half the memory available");
    key(
        "train_embeddings",
        "true",
        "false freezes wte and wpe (they stay bit-identical; no gradients or optimiser state)");
    key(
        "cluster",
        "",
        "HOST:PORT of every task, comma-separated, this one (the chief, task 0) first: train on "
            + "them all, each task on batch_size sequences of its own (start the others with the "
            + "worker command); empty = this process alone");
    key("task", "0", "this process's index in cluster: train runs the chief, task 0");
    key(
        "dry_run",
        "false",
        "print the memory plan (what the step will hold, and the estimated peak) and exit "
            + "without loading anything; a run whose plan exceeds the memory available is refused");
  }

  private static void key(String name, String def, String help) {
    KEYS.put(name, new Key(def, help));
  }

  public TrainConfig {
    positive("batch_size", batchSize);
    positive("block_size", blockSize);
    positive("gradient_accumulation_steps", gradientAccumulationSteps);
    positive("max_iters", maxIters);
    positive("eval_iters", evalIters);
    positive("eval_interval", evalInterval);
    positive("log_interval", logInterval);
    positive("n_layer", nLayer);
    positive("n_head", nHead);
    positive("n_embd", nEmbd);
    positive("n_ctx", nCtx);
    nonNegative("sample_interval", sampleInterval);
    nonNegative("sample_length", sampleLength);
    nonNegative("warmup_iters", warmupIters);
    nonNegative("grad_clip", gradClip);
    nonNegative("weight_decay", weightDecay);
    if (!(learningRate > 0)) {
      throw new IllegalArgumentException("learning_rate must be > 0, got " + learningRate);
    }
    if (!(minLr >= 0 && minLr <= learningRate)) {
      throw new IllegalArgumentException("min_lr must be in [0, learning_rate], got " + minLr);
    }
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException(
          "beta1 and beta2 must be in [0, 1), got " + beta1 + ", " + beta2);
    }
    if (!optimizer.equals("adamw") && !optimizer.equals("adafactor")) {
      throw new IllegalArgumentException(
          "optimizer must be adamw or adafactor, got '" + optimizer + "'");
    }
    autoTrueOrFalse("recompute", recompute);
    autoTrueOrFalse("xla", xla);
    if (!resolved.get("task").equals("0")) {
      throw new IllegalArgumentException(
          "task: train runs the chief, task 0 (got "
              + resolved.get("task")
              + "); start the other tasks with: worker --cluster LIST --task N");
    }
    if (lrDecayIters < warmupIters) {
      throw new IllegalArgumentException(
          "lr_decay_iters (" + lrDecayIters + ") must be >= warmup_iters (" + warmupIters + ")");
    }
  }

  private static void autoTrueOrFalse(String key, String v) {
    if (!v.equals("auto") && !v.equals("true") && !v.equals("false")) {
      throw new IllegalArgumentException(key + " must be auto, true or false, got '" + v + "'");
    }
  }

  private static void positive(String key, double v) {
    if (!(v > 0)) {
      throw new IllegalArgumentException(key + " must be > 0, got " + fmt(v));
    }
  }

  private static void nonNegative(String key, double v) {
    if (!(v >= 0)) {
      throw new IllegalArgumentException(key + " must be >= 0, got " + fmt(v));
    }
  }

  private static String fmt(double v) {
    return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
  }

  public boolean scratch() {
    return initFrom.equals("scratch");
  }

  public boolean resume() {
    return initFrom.equals("resume");
  }

  /** How many tasks compute each step: the cluster's, else 1. */
  public int tasks() {
    return cluster == null ? 1 : cluster.size();
  }

  /** Sequences per micro-batch over all tasks: each task takes batch_size of them. */
  public int globalBatchSize() {
    return batchSize * tasks();
  }

  /**
   * Whether blocks are recomputed in the backward pass. The Trainer settles recompute=auto from the
   * memory plan before it builds a step ({@link Trainer#settleAuto}); unsettled, it is false.
   */
  public boolean recomputes() {
    return recompute.equals("true");
  }

  /** Whether the step is compiled with XLA; xla=auto, unsettled, is true unless recompute is. */
  public boolean compilesWithXla() {
    return xla.equals("true") || (xla.equals("auto") && !recomputes());
  }

  /** This configuration with {@code key} set to {@code value}, checked as on the command line. */
  public TrainConfig with(String key, String value) {
    Map<String, String> values = new LinkedHashMap<>(resolved);
    put(values, key, value, "with");
    return of(values);
  }

  /** Reads {@code file} (if not null), then applies {@code overrides}; unknown keys are errors. */
  public static TrainConfig load(Path file, Map<String, String> overrides) {
    Map<String, String> values = new LinkedHashMap<>();
    KEYS.forEach((k, v) -> values.put(k, unescape(v.defaultValue())));
    if (file != null) {
      String text = TextFiles.readUtf8(file, "--config");
      Properties p = new Properties();
      try {
        p.load(new StringReader(text));
      } catch (IOException | IllegalArgumentException e) { // a malformed unicode escape
        throw new IllegalArgumentException("--config: " + file + ": " + e.getMessage());
      }
      for (String k : p.stringPropertyNames()) {
        put(values, k, p.getProperty(k), file.toString());
      }
    }
    overrides.forEach((k, v) -> put(values, k, v, "command line"));
    return of(values);
  }

  private static void put(Map<String, String> values, String key, String value, String where) {
    if (!KEYS.containsKey(key)) {
      throw new IllegalArgumentException(
          where + ": unknown key '" + key + "' (keys: " + String.join(", ", KEYS.keySet()) + ")");
    }
    values.put(key, value.trim());
  }

  private static TrainConfig of(Map<String, String> v) {
    return new TrainConfig(
        v.get("init_from"),
        Path.of(v.get("out_dir")),
        Path.of(v.get("data_dir")),
        i(v, "n_layer"),
        i(v, "n_head"),
        i(v, "n_embd"),
        i(v, "n_ctx"),
        i(v, "batch_size"),
        i(v, "block_size"),
        i(v, "gradient_accumulation_steps"),
        i(v, "max_iters"),
        d(v, "learning_rate"),
        d(v, "beta1"),
        d(v, "beta2"),
        d(v, "weight_decay"),
        i(v, "warmup_iters"),
        i(v, "lr_decay_iters"),
        d(v, "min_lr"),
        d(v, "grad_clip"),
        i(v, "eval_interval"),
        i(v, "eval_iters"),
        i(v, "log_interval"),
        i(v, "sample_interval"),
        i(v, "sample_length"),
        unescape(v.get("sample_prompt")),
        l(v, "seed"),
        v.get("xla").toLowerCase(),
        v.get("recompute").toLowerCase(),
        b(v, "train_embeddings"),
        v.get("optimizer"),
        DType.of(v.get("dtype"), "dtype"),
        b(v, "dry_run"),
        v.get("cluster").isEmpty() ? null : Cluster.parse("cluster", v.get("cluster")),
        Map.copyOf(v));
  }

  private static int i(Map<String, String> v, String key) {
    try {
      return Integer.parseInt(v.get(key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " expects an integer, got '" + v.get(key) + "'");
    }
  }

  private static long l(Map<String, String> v, String key) {
    try {
      return Long.parseLong(v.get(key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " expects an integer, got '" + v.get(key) + "'");
    }
  }

  private static double d(Map<String, String> v, String key) {
    try {
      double x = Double.parseDouble(v.get(key));
      if (!Double.isFinite(x)) {
        throw new NumberFormatException();
      }
      return x;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " expects a number, got '" + v.get(key) + "'");
    }
  }

  private static boolean b(Map<String, String> v, String key) {
    String s = v.get(key).toLowerCase();
    if (!s.equals("true") && !s.equals("false")) {
      throw new IllegalArgumentException(key + " expects true or false, got '" + v.get(key) + "'");
    }
    return Boolean.parseBoolean(s);
  }

  private static String unescape(String s) {
    return s.replace("\\n", "\n").replace("\\t", "\t");
  }

  /** The resolved configuration as a .properties text, every key present. */
  public String toProperties() {
    StringBuilder sb = new StringBuilder("# resolved configuration of this run\n");
    for (String key : KEYS.keySet()) {
      String value = resolved.get(key).replace("\n", "\\n").replace("\t", "\\t");
      sb.append(key).append(" = ").append(value).append('\n');
    }
    return sb.toString();
  }
}
