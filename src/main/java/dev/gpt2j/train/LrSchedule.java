package dev.gpt2j.train;

/** nanoGPT's get_lr: linear warm-up, cosine decay to min_lr at lr_decay_iters, then min_lr. */
public final class LrSchedule {
  private LrSchedule() {}

  public static double at(int iter, TrainConfig c) {
    if (iter < c.warmupIters()) {
      return c.learningRate() * (iter + 1) / (c.warmupIters() + 1);
    }
    if (iter > c.lrDecayIters()) {
      return c.minLr();
    }
    double ratio =
        c.lrDecayIters() == c.warmupIters()
            ? 1
            : (double) (iter - c.warmupIters()) / (c.lrDecayIters() - c.warmupIters());
    double coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
    return c.minLr() + coeff * (c.learningRate() - c.minLr());
  }
}
