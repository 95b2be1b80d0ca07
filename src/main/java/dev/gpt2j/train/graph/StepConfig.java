package dev.gpt2j.train.graph;

import dev.gpt2j.cluster.Cluster;
import dev.gpt2j.model.DType;
import dev.gpt2j.train.optim.OptimizerSettings;

/**
 * What one training step computes, settled: the run's config with every {@code auto} resolved, cut
 * down to what the step's graph and session need.
 *
 * @param batchSize sequences per micro-batch on each task
 * @param blockSize tokens per sequence
 * @param accumulationSteps micro-batches per optimiser step
 * @param gradClip the global norm gradients are clipped to; 0 = no clipping
 * @param recompute rebuild each block's activations in the backward pass ({@link Backward})
 * @param xla compile the step with XLA's auto-clustering
 * @param dtype the matrix products' number format (weights and optimiser stay float32)
 * @param trainEmbeddings whether wte and wpe are trained
 * @param dropout the probability of dropping an activation (nanoGPT's sites); 0 = none
 * @param moeAuxLoss the weight of a mixture of experts' load-balancing loss in the gradients
 * @param cluster the tasks that share each step, or null for this process alone
 */
public record StepConfig(
    int batchSize,
    int blockSize,
    int accumulationSteps,
    double gradClip,
    boolean recompute,
    boolean xla,
    DType dtype,
    boolean trainEmbeddings,
    OptimizerSettings optimizer,
    double dropout,
    double moeAuxLoss,
    Cluster cluster) {

  /** How many tasks compute each step: the cluster's, else 1. */
  public int tasks() {
    return cluster == null ? 1 : cluster.size();
  }

  /** Sequences per micro-batch over all tasks: each task takes batch_size of them. */
  public int globalBatchSize() {
    return batchSize * tasks();
  }
}
