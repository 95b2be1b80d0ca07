package dev.gpt2j.memory;

import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.MlpPadding;
import dev.gpt2j.model.ModelVariables;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * An estimate of a command's peak resident memory, made from the hyperparameters and options before
 * anything is allocated, as a list of what takes the memory. The weights are counted exactly from
 * {@link ModelVariables#describe}, the same walk that creates them, so every architecture is
 * counted as it is built. The coefficients of the activations and of the runtime were fitted to
 * peak RSS measured with /usr/bin/time (docs/benchmarks.md, "memory plan").
 */
public record MemoryPlan(List<Item> items, List<String> remedies) {
  /** One thing that holds memory at the peak. */
  public record Item(String what, long bytes) {}

  public static final long GIB = 1L << 30;
  private static final long FLOAT = 4;

  /** The JVM and TensorFlow's runtime with nothing loaded, for a training step (XLA's compiler). */
  static final long RUNTIME = 600L << 20;

  /** The same for a model that only runs forward (init, sample, score). */
  static final long INFERENCE_RUNTIME = 450L << 20;

  /**
   * What XLA's clusters add to a training step: new buffers for what they compute, this many
   * weight-sized sets (the gradients and their clipped copies), and without recomputation a copy of
   * the activations they keep. Fitted to peak RSS (docs/benchmarks.md, "The memory plan refitted").
   */
  static final int XLA_WEIGHT_SETS = 2;

  /**
   * ...and never less than this many weight-sized sets: when the activations are small (a fine-tune
   * at a short block, or with recomputation) the clusters' buffers are still about four times the
   * weights (docs/benchmarks.md, "The plan at small fine-tunes").
   */
  static final int XLA_MIN_WEIGHT_SETS = 4;

  /** Copies of the largest trained weight an Adafactor update holds op by op (fitted). */
  static final int ADAFACTOR_UPDATE_SETS = 2;

  /** This plan with one more thing held at the peak. */
  public MemoryPlan plus(String what, long bytes) {
    List<Item> more = new ArrayList<>(items);
    more.add(new Item(what, bytes));
    return new MemoryPlan(List.copyOf(more), remedies);
  }

  public long total() {
    return items.stream().mapToLong(Item::bytes).sum();
  }

  /** The breakdown, one item a line, then exactly {@code estimated peak memory: N.NN GiB}. */
  public String format() {
    StringBuilder sb = new StringBuilder();
    for (Item i : items) {
      sb.append(String.format(Locale.ROOT, "  %-44s %8.2f GiB%n", i.what(), gib(i.bytes())));
    }
    sb.append(String.format(Locale.ROOT, "estimated peak memory: %.2f GiB", gib(total())));
    return sb.toString();
  }

  /**
   * Throws, with one line naming the options that would lower the plan, when it exceeds {@code
   * limit}; an unknown limit passes.
   */
  public void requireFits(Optional<SystemMemory.Limit> limit) {
    if (limit.isPresent() && total() > limit.get().bytes()) {
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "needs an estimated %.2f GiB of memory, more than the %.2f GiB available (%s)%s;"
                  + " --dry-run prints the plan",
              gib(total()),
              gib(limit.get().bytes()),
              limit.get().source(),
              remedies.isEmpty() ? "" : "; try " + String.join(", ", remedies)));
    }
  }

  /**
   * The breakdown ({@link #format}), then whether it fits {@code limit} now and, when it does not,
   * what would help: a dry run's whole answer.
   */
  public String dryRun(Optional<SystemMemory.Limit> limit) {
    return format() + System.lineSeparator() + verdict(limit);
  }

  private String verdict(Optional<SystemMemory.Limit> limit) {
    if (limit.isEmpty()) {
      return "fits: cannot tell (no memory limit could be read here)";
    }
    double available = gib(limit.get().bytes());
    if (total() <= limit.get().bytes()) {
      return String.format(
          Locale.ROOT,
          "fits: %.2f of the %.2f GiB available now (%s)",
          gib(total()),
          available,
          limit.get().source());
    }
    return String.format(
        Locale.ROOT,
        "does not fit: %.2f GiB available now (%s)%s",
        available,
        limit.get().source(),
        remedies.isEmpty() ? "" : "; try " + String.join(", ", remedies));
  }

  public static double gib(long bytes) {
    return bytes / (double) GIB;
  }

  private static final String RESTORED = "restore's largest tensor";

  /** Initialising a model ({@code init}) and writing it. */
  public static MemoryPlan initializing(HParams hp) {
    Builder b = new Builder(INFERENCE_RUNTIME);
    b.weights(hp, DType.FLOAT32, "initialiser's largest output");
    return b.build();
  }

  /** Sampling {@code batch} sequences of up to {@code tokens} tokens (prompt and new). */
  public static MemoryPlan sampling(
      HParams hp, DType dtype, int batch, int tokens, int promptTokens) {
    Builder b = new Builder(INFERENCE_RUNTIME);
    b.weights(hp, dtype, RESTORED);
    b.add(
        "KV cache (" + batch + " x " + tokens + " tokens)",
        2L * hp.nLayer() * batch * tokens * hp.nKvHead() * hp.headSize() * FLOAT);
    b.add("prompt's activations", transientBlock(hp, batch, promptTokens));
    b.add("logits and filters", 4L * batch * hp.nVocab() * FLOAT);
    b.remedy("a smaller --batch-size");
    return b.build();
  }

  /**
   * Serving {@code rows} rows at n_ctx: the cache for all of them, one prompt's prefill, and the
   * logits of one prompt when it asks for its own logprobs back ({@code echo}).
   */
  public static MemoryPlan serving(HParams hp, DType dtype, int rows) {
    Builder b = new Builder(INFERENCE_RUNTIME);
    b.weights(hp, dtype, RESTORED);
    b.add(
        "KV cache (" + rows + " rows x " + hp.nCtx() + " tokens)",
        2L * hp.nLayer() * rows * hp.nCtx() * hp.nKvHead() * hp.headSize() * FLOAT);
    b.add("a prompt's activations", transientBlock(hp, 1, hp.nCtx()));
    b.add("an echoed prompt's logits", 3L * hp.nCtx() * hp.nVocab() * FLOAT);
    b.add("step logits", 2L * rows * hp.nVocab() * FLOAT);
    b.remedy("a smaller --max-batch");
    b.remedy("--dtype bfloat16");
    return b.build();
  }

  /** Scoring windows of {@code window} tokens, {@code batch} at a time. */
  public static MemoryPlan scoring(HParams hp, DType dtype, int batch, int window) {
    Builder b = new Builder(INFERENCE_RUNTIME);
    b.weights(hp, dtype, RESTORED);
    b.add("one block's activations", transientBlock(hp, batch, window));
    b.add("logits", 3L * batch * window * hp.nVocab() * FLOAT);
    return b.build();
  }

  /** What a training step holds at its peak. */
  public static MemoryPlan training(HParams hp, Training t) {
    Builder b = new Builder(RUNTIME);
    Weights w = new Weights(ModelVariables.describe(hp));
    long params = w.all();
    long embeddings = w.embeddings();
    long trained = t.trainEmbeddings() ? params : params - embeddings;
    b.add("weights (" + String.format(Locale.ROOT, "%,d", params) + " float32)", params * FLOAT);
    b.add(
        t.adafactor() ? "Adafactor state (factored)" : "AdamW state (2 moments)",
        t.optimizerState() * FLOAT);
    if (t.gradClip()) {
      b.add("gradients (all held for clipping)", trained * FLOAT);
      b.remedy("grad_clip=0 (each weight updated as its gradient arrives)");
    } else {
      b.add(
          "gradients (one block's at a time)",
          (w.block() * 2 + (t.trainEmbeddings() ? embeddings : 0)) * FLOAT);
    }
    if (t.adafactor() && !t.xla()) {
      // op by op, an update's full-size temporaries (g², the second moment rebuilt from its
      // factors, the scaled update) are alive together for the largest weight: fitted to peak RSS
      // (docs/benchmarks.md, "Adafactor's update, op by op"); XLA's clusters fuse them
      b.add(
          "Adafactor's update of the largest weight",
          ADAFACTOR_UPDATE_SETS * w.largest(t.trainEmbeddings()) * FLOAT);
    }
    if (t.trainEmbeddings()) {
      // wte is used twice: the output layer's part of its gradient, made first in the backward
      // pass, is held apart until the lookup's part is added to it
      b.add("wte's gradient from the output layer", (long) hp.nVocab() * hp.nEmbd() * FLOAT);
    }
    if (t.accumulationSteps() > 1) {
      b.add("gradient accumulators", trained * FLOAT);
    }
    if (MlpPadding.applies(hp)) { // copies of the MLP's matrices, each widened
      b.add(
          "widened MLP weights (see MlpPadding)",
          w.mlpMatrices() / hp.mlpHidden() * (hp.mlpHidden() + MlpPadding.UNITS) * FLOAT);
    }
    if (t.bfloat16()) { // cast once per step and kept for the backward pass's products
      b.add("bfloat16 copies of the weight matrices", w.matrices() * 2);
    }
    long block = storedBlock(hp, t.batch(), t.block());
    long activations;
    if (t.recompute()) {
      activations = (long) hp.nLayer() * t.batch() * t.block() * hp.nEmbd() * FLOAT + 2 * block;
      b.add("activations (recomputed, one block's)", activations);
    } else {
      activations = hp.nLayer() * block;
      b.add("activations (all " + hp.nLayer() + " blocks')", activations);
      b.remedy("recompute=true");
    }
    long logits = (long) t.batch() * t.block() * hp.nVocab() * FLOAT;
    if (t.xla()) { // XLA's fused elementwise work on the output layer does without one of them
      b.add("output layer (logits, d logits)", 2 * logits);
      b.add(
          "XLA's cluster buffers",
          Math.max(
              XLA_MIN_WEIGHT_SETS * trained * FLOAT,
              XLA_WEIGHT_SETS * trained * FLOAT + (t.recompute() ? 0 : activations)));
      b.remedy("xla=false");
    } else {
      b.add("output layer (logits, softmax, d logits)", 3 * logits);
    }
    if (!t.adafactor()) {
      b.remedy("optimizer=adafactor");
    }
    b.remedy("a smaller batch_size or block_size");
    return b.build();
  }

  /**
   * What a training plan depends on beyond the hyperparameters; {@code optimizerState} is the
   * elements the optimiser keeps for the trained weights, as the optimiser counts them.
   */
  public record Training(
      int batch,
      int block,
      int accumulationSteps,
      boolean recompute,
      boolean xla,
      boolean adafactor,
      long optimizerState,
      boolean gradClip,
      boolean trainEmbeddings,
      boolean bfloat16) {}

  // A block's activations kept for its backward pass: B T C floats about 18 times over (the
  // residual, layer norms, q k v, attention output and their gradients' inputs), the MLP's hidden
  // layer 4 times, and the attention's [B, H, T, T] scores and probabilities 3 times (GPT-2: 34 B T
  // C in all); see docs/benchmarks.md
  static long storedBlock(HParams hp, int batch, int tokens) {
    long btc = (long) batch * tokens * hp.nEmbd();
    long scores = (long) batch * hp.nHead() * tokens * tokens;
    return (18 * btc + 4 * hiddenActivations(hp, batch, tokens) + 3 * scores) * FLOAT;
  }

  // one block's forward pass without keeping anything for a backward pass
  static long transientBlock(HParams hp, int batch, int tokens) {
    long btc = (long) batch * tokens * hp.nEmbd();
    long scores = (long) batch * hp.nHead() * tokens * tokens;
    return (4 * btc + 2 * hiddenActivations(hp, batch, tokens) + 2 * scores) * FLOAT;
  }

  // elements of one MLP hidden layer: SwiGLU has two, and every expert of a mixture computes
  // every token, its batched products keeping about twice a dense MLP's tensors (measured:
  // docs/benchmarks.md, "The GPT family")
  private static long hiddenActivations(HParams hp, int batch, int tokens) {
    Architecture arch = hp.arch();
    long halves =
        (arch.mlp() == Architecture.Mlp.SWIGLU ? 3 : 2) * 2L * Math.max(1, arch.moeExperts());
    return (long) batch * tokens * hp.mlpHidden() * (arch.moe() ? 2 * halves : halves) / 4;
  }

  /** Sums over the model's tensors, as {@link ModelVariables#describe} lists them. */
  private record Weights(List<ModelVariables.Spec> specs) {
    private long sum(Predicate<ModelVariables.Spec> which) {
      return specs.stream().filter(which).mapToLong(ModelVariables.Spec::size).sum();
    }

    long all() {
      return sum(s -> true);
    }

    // wte, wpe and every linear layer's w: what DType.BFLOAT16 holds in 2 bytes
    long matrices() {
      return sum(ModelVariables.Spec::matrix);
    }

    long embeddings() {
      return sum(ModelVariables.Spec::embedding);
    }

    long block() {
      return sum(s -> s.inBlock(0));
    }

    // elements of the largest tensor trained, the embeddings being trained or not
    long largest(boolean embeddings) {
      return specs.stream()
          .filter(s -> embeddings || !s.embedding())
          .mapToLong(ModelVariables.Spec::size)
          .max()
          .orElse(0);
    }

    // every block's MLP weight matrices (a mixture's router too, which is not widened: no
    // padding then)
    long mlpMatrices() {
      return sum(s -> s.matrix() && s.name().contains("/mlp/"));
    }
  }

  private static final class Builder {
    private final List<Item> items = new ArrayList<>();
    private final List<String> remedies = new ArrayList<>();

    Builder(long runtime) {
      items.add(new Item("JVM and TensorFlow runtime", runtime));
    }

    // RestoreV2 reads a tensor before its variable adopts it, and an initialiser computes its
    // values before the assignment copies them: either way the largest tensor is held twice
    void weights(HParams hp, DType dtype, String secondCopy) {
      Weights w = new Weights(ModelVariables.describe(hp));
      long params = w.all();
      long matrices = w.matrices();
      add(
          String.format(Locale.ROOT, "weights (%,d, matrices in %s)", params, dtype.label),
          matrices * dtype.bytes() + (params - matrices) * FLOAT);
      long wte = (long) hp.nVocab() * hp.nEmbd();
      add(secondCopy + " (wte, float32)", wte * FLOAT);
      if (dtype != DType.FLOAT32) {
        // fitted to peak RSS (docs/benchmarks.md, "The sampling plan in bfloat16"): TF's pooled
        // allocator keeps the freed float32 buffers of the one-at-a-time restore, about one
        // block's matrices; wte's cast is the weights' own bfloat16 wte, counted above
        add(
            "restore's float32 staging (one block's matrices)",
            12L * hp.nEmbd() * hp.nEmbd() * FLOAT);
        // the decoding step reads the blocks' bfloat16 matrices from copies held [out, in]
        add(
            "block matrices again, [out, in], for decoding",
            (matrices - w.embeddings()) * dtype.bytes());
      }
    }

    void add(String what, long bytes) {
      items.add(new Item(what, bytes));
    }

    void remedy(String option) {
      remedies.add(option);
    }

    MemoryPlan build() {
      return new MemoryPlan(List.copyOf(items), List.copyOf(remedies));
    }
  }
}
