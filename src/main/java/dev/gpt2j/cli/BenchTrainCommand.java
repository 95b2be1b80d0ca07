package dev.gpt2j.cli;

import dev.gpt2j.data.Batches;
import dev.gpt2j.memory.SystemMemory;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.train.StepPlan;
import dev.gpt2j.train.TrainConfig;
import dev.gpt2j.train.graph.StepConfig;
import dev.gpt2j.train.graph.TrainStep;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * {@code bench-train}: training throughput and model FLOPs utilisation (a benchmark, not a test).
 */
final class BenchTrainCommand implements Command {
  private record Shape(
      String name, int nLayer, int nHead, int nEmbd, int nCtx, int batch, int block, int steps) {}

  private static final List<Shape> SHAPES =
      List.of(
          new Shape("baby (4x4x128, batch 12, block 64)", 4, 4, 128, 64, 12, 64, 60),
          new Shape("124M (12x12x768, batch 4, block 256)", 12, 12, 768, 1024, 4, 256, 4));

  @Override
  public String name() {
    return "bench-train";
  }

  @Override
  public String summary() {
    return "benchmark training steps: tokens/s with XLA on and off, MFU";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(
            Option.builder()
                .longOpt("only")
                .hasArg()
                .argName("NAME")
                .desc("run only shapes whose name starts with NAME (baby, 124M)")
                .build())
        .addOption(Option.builder().longOpt("xla-only").desc("skip the xla=false runs").build())
        .addOption(DTypeOption.listOption(""));
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) {
    String only = args.string("only", "");
    List<Shape> shapes = SHAPES.stream().filter(s -> s.name().startsWith(only)).toList();
    if (shapes.isEmpty()) {
      throw new UsageException(
          "--only: no shape starts with '"
              + only
              + "' (shapes: "
              + String.join(", ", SHAPES.stream().map(s -> s.name().split(" ")[0]).toList())
              + ")");
    }
    List<DType> dtypes = DTypeOption.listOf(args);
    double peak = matmulGflops();
    out.printf("fp32 matmul 2048^3 in TF: %.0f GFLOP/s (the MFU reference)%n", peak);
    try (StopOnSignal stop =
        new StopOnSignal(err, "stopping after this step", "the shape being measured")) {
      for (Shape s : shapes) {
        for (DType dtype : dtypes) {
          for (boolean xla :
              args.has("xla-only") ? new boolean[] {true} : new boolean[] {true, false}) {
            out.printf(
                "%s, %s, xla=%s: %d steps after one to warm up%s...%n",
                s.name(), dtype.label, xla, s.steps(), xla ? " (and compile)" : "");
            String result = measure(s, xla, dtype, peak, stop);
            if (result == null) {
              out.println("stopped");
              return stop.exitCode();
            }
            out.println(result);
          }
        }
      }
    }
    return 0;
  }

  // null when stopped
  private static String measure(Shape s, boolean xla, DType dtype, double peak, StopOnSignal stop) {
    HParams hp = new HParams(HParams.GPT2_VOCAB, s.nCtx(), s.nEmbd(), s.nHead(), s.nLayer());
    Map<String, String> keys =
        Map.of(
            "batch_size",
            String.valueOf(s.batch()),
            "block_size",
            String.valueOf(s.block()),
            "xla",
            String.valueOf(xla),
            "dtype",
            dtype.label);
    Optional<SystemMemory.Limit> available = SystemMemory.available();
    StepConfig c = StepPlan.settle(TrainConfig.load(null, keys), hp, available);
    StepPlan.memory(c, hp).requireFits(available);
    Random r = new Random(1);
    try (TrainStep step = new TrainStep(hp, c)) {
      step.initialize(1);
      double[] seconds = new double[s.steps()];
      for (int i = -1; i < s.steps(); i++) { // step -1 warms up (and compiles)
        if (stop.requested()) {
          return null;
        }
        Batches.Batch b = new Batches.Batch(randomTokens(r, s), randomTokens(r, s));
        long t0 = System.nanoTime();
        step.step(List.of(b), 1e-4, 0, false);
        if (i >= 0) {
          seconds[i] = (System.nanoTime() - t0) / 1e9;
        }
      }
      Arrays.sort(seconds);
      double perStep = seconds[seconds.length / 2];
      double tokens = s.batch() * s.block();
      // nanoGPT's estimate_mfu: 6N per token for the weights plus 12 L T C for attention
      double flopsPerToken = 6.0 * hp.parameterCount() + 12.0 * s.nLayer() * s.block() * s.nEmbd();
      double achieved = flopsPerToken * tokens / perStep / 1e9;
      return String.format(
          "%s, %s, xla=%s: %,.0f tokens/s (median step %.3f s of %d), %.0f GFLOP/s = MFU %.0f%%",
          s.name(),
          dtype.label,
          xla,
          tokens / perStep,
          perStep,
          s.steps(),
          achieved,
          100 * achieved / peak);
    }
  }

  private static int[][] randomTokens(Random r, Shape s) {
    int[][] rows = new int[s.batch()][s.block()];
    for (int[] row : rows) {
      Arrays.setAll(row, t -> r.nextInt(HParams.GPT2_VOCAB));
    }
    return rows;
  }

  // fed through a placeholder: a constant input would let TF's graph optimiser fold the matmul away
  private static double matmulGflops() {
    int n = 2048;
    float[] values = new float[n * n];
    Random r = new Random(1);
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) r.nextGaussian();
    }
    try (Graph g = new Graph();
        Session session = new Session(g);
        TFloat32 input =
            TFloat32.tensorOf(
                org.tensorflow.ndarray.Shape.of(n, n),
                org.tensorflow.ndarray.buffer.DataBuffers.of(values, true, false))) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> a = tf.placeholder(TFloat32.class);
      Operand<TFloat32> m = tf.reduceSum(tf.linalg.matMul(a, a), tf.constant(new int[] {0, 1}));
      List<Double> times = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        long t0 = System.nanoTime();
        session.runner().feed(a, input).fetch(m).run().close();
        times.add((System.nanoTime() - t0) / 1e9);
      }
      times.sort(null);
      return 2.0 * n * n * n / times.get(0) / 1e9;
    }
  }
}
