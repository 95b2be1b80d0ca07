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
import dev.gpt2j.train.optim.OptimizerSettings;
import java.nio.file.Path;
import java.util.List;

/**
 * The one table of training keys: name, type and check, default and help, in the order of {@link
 * TrainConfig}'s components. The CLI's help, the config files and the tests read it.
 */
final class TrainKeys {
  private TrainKeys() {}

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

  static final List<ConfigKey> ALL =
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
          architecture("norm", "layernorm (GPT-2) or rmsnorm (LLaMA)"),
          architecture(
              "mlp", "the MLP's activation: gelu (GPT-2), relu, or swiglu (LLaMA; adds c_gate)"),
          architecture(
              "mlp_hidden",
              "width of the MLP's hidden layer; 0 = 4 n_embd, or for swiglu 2/3 of that rounded"
                  + " up to a multiple of 64"),
          architecture("position", "learned (GPT-2's wpe) or rope (rotary, rotate-half; no wpe)"),
          architecture("rope_theta", "base of the rotary frequencies"),
          architecture(
              "n_kv_head",
              "key/value heads, dividing n_head (grouped-query attention; 1 = multi-query);"
                  + " 0 = n_head"),
          architecture("bias", "biases in every linear layer and layer norm"),
          architecture(
              "moe_experts", "experts in each MLP (a mixture of experts); 0 = a dense MLP"),
          architecture("moe_top_k", "experts each token is routed to"),
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

  // a key of the architecture: read (and its value checked) by Architecture's table, kept as text
  // until the architecture is built from all of them
  private static ConfigKey architecture(String name, String help) {
    return new ConfigKey(
        name,
        ConfigKey.of(text -> Architecture.checkText(name, text), text -> text),
        Architecture.GPT2.text(name),
        help + " (init_from=scratch)");
  }
}
