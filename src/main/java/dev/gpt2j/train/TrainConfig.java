package dev.gpt2j.train;

import static dev.gpt2j.train.ConfigKey.text;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.eval.EvalTask;
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
 * same names in camelCase: the CLI's help, the config files and the tests read it. The keys of a
 * new model's {@link Architecture} (norm ... moe_top_k) are read by Architecture's own table into
 * the one component {@code architecture}; this table adds only their help.
 */
public record TrainConfig(
    InitFrom initFrom,
    Path outDir,
    Path dataDir,
    int nLayer,
    int nHead,
    int nEmbd,
    int nCtx,
    Architecture architecture,
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

  /** The keys, as {@link TrainKeys} lists them. */
  public static final List<ConfigKey> KEYS = TrainKeys.ALL;

  private static final String ARCHITECTURE = "architecture";
  private static final List<String> ARCHITECTURE_KEYS = Architecture.keys();

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

  /** A new model's shape (init_from=scratch), with {@code nVocab} tokens. */
  public HParams scratchModel(int nVocab) {
    return new HParams(nVocab, nCtx, nEmbd, nHead, nLayer, architecture());
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
    Map<String, Object> values = new LinkedHashMap<>(); // by component
    Map<String, String> architecture = new LinkedHashMap<>();
    for (ConfigKey k : KEYS) {
      Object value = k.type().read(k.name(), texts.get(k.name()));
      if (ARCHITECTURE_KEYS.contains(k.name())) {
        architecture.put(k.name(), (String) value);
      } else {
        values.put(camelCase(k.name()), value);
      }
    }
    values.put(ARCHITECTURE, Architecture.fromText(architecture));
    try {
      return CONSTRUCTOR.newInstance(
          Arrays.stream(TrainConfig.class.getRecordComponents())
              .map(c -> values.get(c.getName()))
              .toArray());
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
    for (ConfigKey key : KEYS) {
      String text =
          ARCHITECTURE_KEYS.contains(key.name())
              ? architecture.text(key.name())
              : key.type().write(component(camelCase(key.name())));
      sb.append(key.name()).append(" = ").append(text).append('\n');
    }
    return sb.toString();
  }

  private Object component(String name) {
    try {
      return TrainConfig.class.getMethod(name).invoke(this);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
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

  // KEYS and the components must pair up in order, key n_layer with component nLayer, the
  // architecture's keys with the one component architecture: checked once, when the class loads,
  // so a key added to one and not the other fails every run at once
  private static Constructor<TrainConfig> canonicalConstructor() {
    RecordComponent[] components = TrainConfig.class.getRecordComponents();
    List<String> keys =
        KEYS.stream()
            .map(k -> ARCHITECTURE_KEYS.contains(k.name()) ? ARCHITECTURE : camelCase(k.name()))
            .distinct()
            .toList();
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
