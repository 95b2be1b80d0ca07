package dev.gpt2j.train;

import static dev.gpt2j.train.ConfigKey.bool;
import static dev.gpt2j.train.ConfigKey.choice;
import static dev.gpt2j.train.ConfigKey.integer;
import static dev.gpt2j.train.ConfigKey.longInteger;
import static dev.gpt2j.train.ConfigKey.number;
import static dev.gpt2j.train.ConfigKey.text;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.eval.EvalTask;
import dev.gpt2j.kernels.AutoDType;
import dev.gpt2j.kernels.CpuFlags;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.train.optim.OptimizerSettings;
import dev.gpt2j.util.TextFiles;
import java.io.IOException;
import java.io.StringReader;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Everything a training run is told, typed. Keys are nanoGPT's, snake_case, in a .properties file
 * with {@code --key=value} overrides on the command line. {@link #KEYS} is the one table of them
 * (name, type and check, default, help), in the order of this record's components, which carry the
 * same names in camelCase: the CLI's help, the config files and the tests read it.
 */
public record TrainConfig(
    InitFrom initFrom,
    Path outDir,
    Path dataDir,
    int nLayer,
    int nHead,
    int nEmbd,
    int nCtx,
    Architecture.Norm norm,
    Architecture.Mlp mlp,
    int mlpHidden,
    Architecture.Position position,
    double ropeTheta,
    int nKvHead,
    boolean bias,
    int moeExperts,
    int moeTopK,
    double moeAuxLoss,
    double dropout,
    int batchSize,
    int blockSize,
    int gradientAccumulationSteps,
    int maxIters,
    double learningRate,
    OptimizerSettings.Kind optimizer,
    DType dtype,
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
    EvalTask evalTask,
    String evalTaskData,
    int evalTaskInterval,
    int evalTaskLimit,
    long seed,
    Toggle xla,
    Toggle recompute,
    boolean trainEmbeddings,
    Cluster cluster,
    int clusterTimeout,
    int task,
    boolean dryRun) {

  private static final ConfigKey.Type POSITIVE = integer(v -> v > 0, "> 0");
  private static final ConfigKey.Type NON_NEGATIVE = integer(v -> v >= 0, ">= 0");
  private static final ConfigKey.Type TOGGLE = choice(Toggle.class, Toggle::label);

  // auto is read as what it picks, so the run directory's config names the dtype a resumed run
  // keeps, whichever machine resumes it
  private static final ConfigKey.Type DTYPE =
      new ConfigKey.Type() {
        private final ConfigKey.Type labels = choice(DType.class, d -> d.label);

        @Override
        public Object read(String key, String text) {
          if (text.equalsIgnoreCase(AutoDType.LABEL)) {
            return AutoDType.forTraining(CpuFlags.ofThisMachine()).dtype();
          }
          try {
            return labels.read(key, text);
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                key + " must be " + AutoDType.CHOICES + ", got '" + text + "'");
          }
        }

        @Override
        public String write(Object value) {
          return labels.write(value);
        }
      };

  public static final List<ConfigKey> KEYS =
      List.of(
          new ConfigKey(
              "init_from",
              ConfigKey.of(InitFrom::parse, InitFrom::toString),
              "scratch",
              "scratch (a new model of n_layer/n_head/n_embd/n_ctx), resume (continue the run in"
                  + " out_dir), or an OpenAI-layout model directory to fine-tune"),
          new ConfigKey(
              "out_dir",
              ConfigKey.of(Path::of, Path::toString),
              "out/shakespeare",
              "where the model (OpenAI layout), optimiser state, metrics and loss curve go"),
          new ConfigKey(
              "data_dir",
              ConfigKey.of(Path::of, Path::toString),
              "data/shakespeare",
              "directory with train.bin and val.bin (the prepare command)"),
          new ConfigKey("n_layer", POSITIVE, "4", "transformer blocks (init_from=scratch)"),
          new ConfigKey("n_head", POSITIVE, "4", "attention heads (init_from=scratch)"),
          new ConfigKey("n_embd", POSITIVE, "128", "embedding width (init_from=scratch)"),
          new ConfigKey(
              "n_ctx", POSITIVE, "64", "context length of the new model (init_from=scratch)"),
          new ConfigKey(
              "norm",
              choice(Architecture.Norm.class, TrainConfig::label),
              gpt2("norm"),
              "layernorm (GPT-2) or rmsnorm (LLaMA) (init_from=scratch)"),
          new ConfigKey(
              "mlp",
              choice(Architecture.Mlp.class, TrainConfig::label),
              gpt2("mlp"),
              "the MLP's activation: gelu (GPT-2), relu, or swiglu (LLaMA; adds c_gate)"
                  + " (init_from=scratch)"),
          new ConfigKey(
              "mlp_hidden",
              NON_NEGATIVE,
              gpt2("mlp_hidden"),
              "width of the MLP's hidden layer; 0 = 4 n_embd, or for swiglu 2/3 of that rounded"
                  + " up to a multiple of 64 (init_from=scratch)"),
          new ConfigKey(
              "position",
              choice(Architecture.Position.class, TrainConfig::label),
              gpt2("position"),
              "learned (GPT-2's wpe) or rope (rotary, rotate-half; no wpe) (init_from=scratch)"),
          new ConfigKey(
              "rope_theta",
              number(v -> v > 0, "> 0"),
              gpt2("rope_theta"),
              "base of the rotary frequencies (init_from=scratch)"),
          new ConfigKey(
              "n_kv_head",
              NON_NEGATIVE,
              gpt2("n_kv_head"),
              "key/value heads, dividing n_head (grouped-query attention; 1 = multi-query);"
                  + " 0 = n_head (init_from=scratch)"),
          new ConfigKey(
              "bias",
              bool(),
              gpt2("bias"),
              "biases in every linear layer and layer norm (init_from=scratch)"),
          new ConfigKey(
              "moe_experts",
              NON_NEGATIVE,
              gpt2("moe_experts"),
              "experts in each MLP (a mixture of experts); 0 = a dense MLP (init_from=scratch)"),
          new ConfigKey(
              "moe_top_k",
              POSITIVE,
              gpt2("moe_top_k"),
              "experts each token is routed to (init_from=scratch)"),
          new ConfigKey(
              "moe_aux_loss",
              number(v -> v >= 0, ">= 0"),
              "0.01",
              "weight of the Switch Transformer load-balancing loss in training (a mixture of"
                  + " experts); logged as aux_loss"),
          new ConfigKey(
              "dropout",
              number(v -> v >= 0 && v < 1, "in [0, 1)"),
              "0.0",
              "probability of dropping an activation in training, at nanoGPT's places (the"
                  + " embeddings, attention weights, after each block's attention and MLP); never"
                  + " in evaluation or sampling"),
          new ConfigKey("batch_size", POSITIVE, "12", "sequences per micro-batch"),
          new ConfigKey("block_size", POSITIVE, "64", "tokens per sequence (<= n_ctx)"),
          new ConfigKey(
              "gradient_accumulation_steps", POSITIVE, "1", "micro-batches per optimiser step"),
          new ConfigKey(
              "max_iters",
              POSITIVE,
              "2000",
              "optimiser steps in all (a resumed run continues up to it)"),
          new ConfigKey("learning_rate", number(v -> v > 0, "> 0"), "1e-3", "peak learning rate"),
          new ConfigKey(
              "optimizer",
              choice(OptimizerSettings.Kind.class, OptimizerSettings.Kind::label),
              "adamw",
              "adamw (two moments per weight, as nanoGPT) or adafactor (factored second moments,"
                  + " no first moment, updates clipped to RMS 1: almost no state; pair it with"
                  + " grad_clip=0)"),
          new ConfigKey(
              "dtype",
              DTYPE,
              "float32",
              "float32, bfloat16: matrix products in bfloat16 (accumulated in float32) with"
                  + " float32 weights, layer norms, softmax, loss and optimiser; checkpoints stay"
                  + " float32; or auto: bfloat16 where the processor computes it natively"
                  + " (avx512_bf16 or amx_bf16), else float32, fixed for the run when it starts"),
          new ConfigKey("beta1", number(v -> v >= 0 && v < 1, "in [0, 1)"), "0.9", "AdamW beta1"),
          new ConfigKey("beta2", number(v -> v >= 0 && v < 1, "in [0, 1)"), "0.99", "AdamW beta2"),
          new ConfigKey(
              "weight_decay",
              number(v -> v >= 0, ">= 0"),
              "0.1",
              "decoupled weight decay, applied to matrices and embeddings only"),
          new ConfigKey("warmup_iters", NON_NEGATIVE, "100", "linear warm-up steps"),
          new ConfigKey(
              "lr_decay_iters", NON_NEGATIVE, "2000", "cosine decay reaches min_lr at this step"),
          new ConfigKey("min_lr", number(v -> v >= 0, ">= 0"), "1e-4", "learning rate after decay"),
          new ConfigKey(
              "grad_clip",
              number(v -> v >= 0, ">= 0"),
              "1.0",
              "clip gradients to this global norm; 0 = off"),
          new ConfigKey(
              "eval_interval",
              POSITIVE,
              "250",
              "steps between validation evaluations (and checkpoints); a value above max_iters"
                  + " means only at the end"),
          new ConfigKey("eval_iters", POSITIVE, "20", "batches per loss estimate"),
          new ConfigKey("log_interval", POSITIVE, "10", "steps between progress lines"),
          new ConfigKey(
              "sample_interval", NON_NEGATIVE, "500", "steps between printed samples; 0 = off"),
          new ConfigKey("sample_length", NON_NEGATIVE, "64", "tokens per printed sample"),
          new ConfigKey(
              "sample_prompt",
              text(),
              "\\n",
              "prompt of printed samples (Java escapes: \\n is a newline)"),
          new ConfigKey(
              "eval_task",
              ConfigKey.of(v -> EvalTask.of(v, "eval_task"), t -> t.label),
              "",
              "a task of the eval command ("
                  + EvalTask.labels()
                  + ") run on the weights during training, its headline figure logged as"
                  + " task_metric and drawn under the losses; empty = none"),
          new ConfigKey(
              "eval_task_data",
              text(),
              "",
              "the task's data file; empty = downloaded into data/eval as the eval command does"),
          new ConfigKey(
              "eval_task_interval",
              NON_NEGATIVE,
              "0",
              "steps between task evaluations (and at the end); 0 = at every eval_interval"),
          new ConfigKey(
              "eval_task_limit",
              NON_NEGATIVE,
              "500",
              "examples (text tasks: windows) per task evaluation; 0 = all"),
          new ConfigKey(
              "seed", longInteger(), "1337", "seed for initialisation, batches and samples"),
          new ConfigKey(
              "xla",
              TOGGLE,
              "auto",
              "compile the training step with XLA (true, false); auto is true unless recompute is"
                  + " on: XLA's clusters keep their own weight-sized buffers, which a run short of"
                  + " memory cannot spare"),
          new ConfigKey(
              "recompute",
              TOGGLE,
              "auto",
              "true keeps only each transformer block's input from the forward pass and"
                  + " recomputes its activations in the backward pass: activation memory of one"
                  + " block instead of all, for about a third more compute; auto turns it on when"
                  + " holding every block's activations would take the run past half the memory"
                  + " available"),
          new ConfigKey(
              "train_embeddings",
              bool(),
              "true",
              "false freezes wte and wpe (they stay bit-identical; no gradients or optimiser"
                  + " state)"),
          new ConfigKey(
              "cluster",
              ConfigKey.of(
                  list -> Cluster.parse("cluster", list), c -> String.join(",", c.addresses())),
              "",
              "HOST:PORT of every task, comma-separated, this one (the chief, task 0) first: train"
                  + " on them all, each task on batch_size sequences of its own (start the others"
                  + " with the worker command); empty = this process alone"),
          new ConfigKey(
              "cluster_timeout",
              POSITIVE,
              "30",
              "seconds a task of the cluster may take to answer the chief's heartbeat before the"
                  + " run stops, naming it (a task busy with a long step still answers)"),
          new ConfigKey(
              "task",
              NON_NEGATIVE,
              "0",
              "this process's index in cluster: train runs the chief, task 0"),
          new ConfigKey(
              "dry_run",
              bool(),
              "false",
              "print the memory plan (what the step will hold, and the estimated peak) and exit"
                  + " without loading anything; a run whose plan exceeds the memory available is"
                  + " refused"));

  // the canonical constructor, its parameters in the order of KEYS
  private static final Constructor<TrainConfig> CONSTRUCTOR = canonicalConstructor();

  public TrainConfig {
    if (task != 0) {
      throw new IllegalArgumentException(
          "task: train runs the chief, task 0 (got "
              + task
              + "); start the other tasks with: worker --cluster LIST --task N");
    }
    if ((long) batchSize * blockSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          String.format(
              "batch_size x block_size is %,d tokens per micro-batch; a step holds at most %,d",
              (long) batchSize * blockSize, Integer.MAX_VALUE));
    }
    if (evalTask == EvalTask.TEXT && evalTaskData.isEmpty()) {
      throw new IllegalArgumentException("eval_task=text needs eval_task_data=FILE");
    }
    if (minLr > learningRate) {
      throw new IllegalArgumentException("min_lr must be in [0, learning_rate], got " + minLr);
    }
    if (lrDecayIters < warmupIters) {
      throw new IllegalArgumentException(
          "lr_decay_iters (" + lrDecayIters + ") must be >= warmup_iters (" + warmupIters + ")");
    }
  }

  /**
   * The architecture of a new model (init_from=scratch); an IllegalArgumentException names a
   * combination that cannot work.
   */
  public Architecture architecture() {
    return new Architecture(
        norm, mlp, mlpHidden, position, ropeTheta, nKvHead, bias, moeExperts, moeTopK);
  }

  /** A new model's shape (init_from=scratch), with {@code nVocab} tokens. */
  public HParams scratchModel(int nVocab) {
    return new HParams(nVocab, nCtx, nEmbd, nHead, nLayer, architecture());
  }

  private static String gpt2(String key) {
    return Architecture.GPT2.text(key);
  }

  private static String label(Enum<?> e) {
    return e.name().toLowerCase(java.util.Locale.ROOT);
  }

  /** The key named {@code name}, or null. */
  public static ConfigKey key(String name) {
    return KEYS.stream().filter(k -> k.name().equals(name)).findFirst().orElse(null);
  }

  /** Reads {@code file} (if not null), then applies {@code overrides}; unknown keys are errors. */
  public static TrainConfig load(Path file, Map<String, String> overrides) {
    Map<String, String> texts = new LinkedHashMap<>();
    KEYS.forEach(k -> texts.put(k.name(), k.defaultText()));
    Map<String, String> given = new LinkedHashMap<>(); // what the file and the command line set
    if (file != null) {
      String text = TextFiles.readUtf8(file, "--config");
      Properties p = new Properties();
      try {
        p.load(new StringReader(text));
      } catch (IOException | IllegalArgumentException e) { // a malformed unicode escape
        throw new IllegalArgumentException("--config: " + file + ": " + e.getMessage());
      }
      p.stringPropertyNames().forEach(k -> put(given, k, p.getProperty(k), file.toString()));
    }
    overrides.forEach((k, v) -> put(given, k, v, "command line"));
    texts.putAll(given);
    if (InitFrom.parse(texts.get("init_from")).kind() == InitFrom.Kind.RESUME) {
      ResumedModel.adopt(texts, given.keySet());
    }
    Object[] values =
        KEYS.stream().map(k -> k.type().read(k.name(), texts.get(k.name()))).toArray();
    try {
      return CONSTRUCTOR.newInstance(values);
    } catch (InvocationTargetException e) {
      throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void put(Map<String, String> texts, String key, String value, String where) {
    if (key(key) == null) {
      throw new IllegalArgumentException(
          where
              + ": unknown key '"
              + key
              + "' (keys: "
              + String.join(", ", KEYS.stream().map(ConfigKey::name).toList())
              + ")");
    }
    texts.put(key, value.trim());
  }

  /** The configuration as a .properties text, every key present, that {@link #load} reads back. */
  public String toProperties() {
    StringBuilder sb = new StringBuilder("# resolved configuration of this run\n");
    RecordComponent[] components = TrainConfig.class.getRecordComponents();
    for (int i = 0; i < KEYS.size(); i++) {
      ConfigKey key = KEYS.get(i);
      try {
        Object value = components[i].getAccessor().invoke(this);
        sb.append(key.name()).append(" = ").append(key.type().write(value)).append('\n');
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }
    return sb.toString();
  }

  /** What the optimiser is built from. */
  public OptimizerSettings optimizerSettings() {
    return new OptimizerSettings(optimizer, beta1, beta2, weightDecay);
  }

  /** How many tasks compute each step: the cluster's, else 1. */
  public int tasks() {
    return cluster == null ? 1 : cluster.size();
  }

  /** Sequences per micro-batch over all tasks: each task takes batch_size of them. */
  public int globalBatchSize() {
    return batchSize * tasks();
  }

  // KEYS and the components must pair up in order, key n_layer with component nLayer: checked
  // once, when the class loads, so a key added to one and not the other fails every run at once
  private static Constructor<TrainConfig> canonicalConstructor() {
    RecordComponent[] components = TrainConfig.class.getRecordComponents();
    List<String> keys = KEYS.stream().map(k -> camelCase(k.name())).toList();
    List<String> names = Arrays.stream(components).map(RecordComponent::getName).toList();
    if (!keys.equals(names)) {
      throw new IllegalStateException("TrainConfig.KEYS " + keys + " != components " + names);
    }
    try {
      return TrainConfig.class.getDeclaredConstructor(
          Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new));
    } catch (NoSuchMethodException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String camelCase(String snake) {
    StringBuilder sb = new StringBuilder();
    boolean upper = false;
    for (char ch : snake.toCharArray()) {
      if (ch == '_') {
        upper = true;
      } else {
        sb.append(upper ? Character.toUpperCase(ch) : ch);
        upper = false;
      }
    }
    return sb.toString();
  }
}
