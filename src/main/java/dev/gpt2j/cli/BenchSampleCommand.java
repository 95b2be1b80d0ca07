package dev.gpt2j.cli;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.kernels.FusedBlocks;
import dev.gpt2j.kernels.NativeKernels;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.SampleOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code bench-sample}: decoding speed (a benchmark, not a test). */
final class BenchSampleCommand implements Command {
  private static final int NEW_TOKENS = 128;
  private static final int RUNS = 3;
  private static final int BATCH = 8;
  private static final int LONG_PROMPT = 512;

  @Override
  public String name() {
    return "bench-sample";
  }

  @Override
  public String summary() {
    return "benchmark KV-cached greedy decoding: tokens/s, time to first token, peak RSS";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(
            ModelDirOption.option(
                "model to time (make bench-sample uses a 124M-shaped one from init)"))
        .addOption(
            Option.builder()
                .longOpt("new-tokens")
                .hasArg()
                .argName("N")
                .desc("tokens generated per run (default " + NEW_TOKENS + ")")
                .build())
        .addOption(
            Option.builder()
                .longOpt("runs")
                .hasArg()
                .argName("N")
                .desc("timed runs after one warm-up; the median is reported (default " + RUNS + ")")
                .build())
        .addOption(
            DTypeOption.listOption(
                ", each loaded in turn; peak RSS is the process's, so time one alone to read its"
                    + " memory"));
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws IOException {
    Path dir = ModelDirOption.of(args, null);
    int newTokens = args.positive("new-tokens", NEW_TOKENS);
    int runs = args.positive("runs", RUNS);
    int nCtx = ModelDir.hparams(dir).nCtx();
    if (newTokens >= nCtx) {
      throw new UsageException(
          "--new-tokens ("
              + newTokens
              + ") must be below the model's n_ctx ("
              + nCtx
              + "), leaving room for a prompt");
    }
    HParams hp = ModelDir.hparams(dir);
    for (DType dtype : DTypeOption.listOf(args)) {
      MemoryPlan.sampling(hp, dtype, BATCH, Math.min(nCtx, LONG_PROMPT + newTokens), LONG_PROMPT)
          .requireFits(SystemMemory.available());
      long start = System.nanoTime();
      try (Gpt2Model model = Gpt2Model.load(dir, dtype)) {
        out.printf(
            "%s: loaded %s (%,d parameters) in %.2f s; native kernels: %s%s%n",
            dtype.label,
            dir,
            hp.parameterCount(),
            (System.nanoTime() - start) / 1e9,
            NativeKernels.instructionSet().orElse("not loaded"),
            FusedBlocks.computes(hp.arch()) ? ", the blocks in one op" : "");
        for (int[] config : new int[][] {{8, 1}, {8, BATCH}, {LONG_PROMPT, 1}}) {
          int promptLength = Math.min(config[0], nCtx - newTokens);
          out.println(
              dtype.label + ", " + measure(model, promptLength, config[1], newTokens, runs));
        }
      }
    }
    SystemMemory.peakResident()
        .ifPresent(peak -> out.printf("peak RSS %.2f GiB%n", MemoryPlan.gib(peak)));
    return 0;
  }

  private static String measure(
      Gpt2Model model, int promptLength, int batch, int newTokens, int runs) {
    int[] prompt = new int[promptLength];
    for (int i = 0; i < promptLength; i++) {
      prompt[i] = (i * 7919 + 13) % model.hparams().nVocab();
    }
    SampleOptions options =
        SampleOptions.greedy(newTokens).toBuilder().samples(batch, batch).build();
    double[] rates = new double[runs];
    double[] firsts = new double[runs];
    for (int run = -1; run < runs; run++) { // run -1 is the warm-up
      long[] first = {0};
      long t0 = System.nanoTime();
      model.generate(
          prompt,
          options,
          (sample, token) -> {
            if (first[0] == 0) {
              first[0] = System.nanoTime();
            }
          });
      long t1 = System.nanoTime();
      if (run >= 0) {
        firsts[run] = (first[0] - t0) / 1e9;
        // steps after the first one: each puts one new position of every row through the network
        rates[run] = (newTokens - 1) * batch / ((t1 - first[0]) / 1e9);
      }
    }
    return String.format(
        "prompt %d, batch %d, %d new tokens: %.1f new tokens/s (median of %d; "
            + "runs %s), time to first token %.3f s",
        promptLength,
        batch,
        newTokens,
        median(rates),
        runs,
        Arrays.toString(Arrays.stream(rates).map(r -> Math.round(r * 10) / 10.0).toArray()),
        median(firsts));
  }

  private static double median(double[] x) {
    double[] s = x.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
