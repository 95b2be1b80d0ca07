package dev.gpt2j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.ptr.IntByReference;
import dev.gpt2j.data.Batches;
import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import dev.gpt2j.sampling.DecodingGraph;
import dev.gpt2j.testing.Bfloat16Rounding;
import dev.gpt2j.testing.CliProcess;
import dev.gpt2j.testing.Steps;
import dev.gpt2j.train.TrainConfig;
import dev.gpt2j.train.graph.TrainStep;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.TensorFlow;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/** The native matrix-vector ops against float64 products, and where they are (not) used. */
@Tag("process")
class NativeKernelsTest {

  @BeforeAll
  static void requireLibrary() {
    assumeTrue(NativeKernels.loaded(), "native kernels not built (no C compiler): skipped");
  }

  // shapes with K and N not multiples of the 4-row unrolling, and with N < threads
  @ParameterizedTest
  @CsvSource({"1, 768, 2304", "1, 13, 5", "3, 7, 37", "8, 130, 1", "2, 1, 9", "16, 64, 100"})
  void productsMatchFloat64(int m, int k, int n) {
    for (boolean bf16 : new boolean[] {false, true}) {
      for (boolean transposed : new boolean[] {false, true}) {
        assertProductMatchesFloat64(m, k, n, transposed, bf16);
      }
    }
  }

  // the loops this process runs (the widest the processor has) against the whole-sequence graph
  @Test
  void decodingOnTheLoopsChosenHereMatchesTheGraph(@TempDir Path tmp) {
    KernelCheck.decoding(tmp);
  }

  // the narrower loops, forced in a JVM of its own (GPT2J_ISA), each checked as above; the generic
  // one with three threads on this machine's cores, so that shares are uneven and threads, taken
  // off their core, leave theirs for the others to claim
  @ParameterizedTest
  @ValueSource(strings = {"avx2", "generic"})
  void everyNarrowerInstructionSetIsCheckedToo(String isa, @TempDir Path tmp) throws Exception {
    assumeTrue(
        isa.equals("generic") || CpuFlags.ofThisMachine().containsAll(Set.of("avx2", "fma")),
        "this processor has no " + isa + ": skipped");
    ProcessBuilder pb =
        new ProcessBuilder(
                CliProcess.java(
                    KernelCheck.class.getName(), List.of(isa, tmp.resolve("m").toString())))
            .redirectErrorStream(true);
    pb.environment().put("GPT2J_ISA", isa);
    if (isa.equals("generic")) {
      pb.environment().put("OMP_NUM_THREADS", "3");
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), isa + ":\n" + out);
  }

  // bfloat16 weights: the reference multiplies by the rounded values, which the kernel widens
  static void assertProductMatchesFloat64(int m, int k, int n, boolean transposed, boolean bf16) {
    Random random = new Random(31L * m + k + n);
    float[][] x = randomMatrix(random, m, k);
    float[][] w = transposed ? randomMatrix(random, n, k) : randomMatrix(random, k, n);
    if (bf16) {
      for (int i = 0; i < w.length; i++) {
        w[i] = Bfloat16Rounding.round(w[i]);
      }
    }
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<? extends TNumber> wc =
          bf16 ? tf.dtypes.cast(tf.constant(w), TBfloat16.class) : tf.constant(w);
      NativeKernels.StepProduct product = NativeKernels.decodingStep();
      Operand<TFloat32> y = product.apply(tf, tf.constant(x), wc, transposed);
      // bfloat16 [in, out] weights are read from an [out, in] copy, filled by repack
      boolean outIn = transposed || bf16;
      assertEquals("Gpt2MatVec" + (outIn ? "T" : "") + (bf16 ? "Bf16" : ""), y.op().type());
      assertEquals(bf16 && !transposed ? 1 : 0, product.repack().size());
      product.repack().forEach(op -> s.runner().addTarget(op).run().close());
      try (Result r = s.runner().fetch(y).run()) {
        double[][] wkn = transposed ? transpose(w) : toDouble(w);
        assertClose(
            multiply(toDouble(x), wkn),
            r.get(0),
            (transposed ? "x w^T " : "x w ") + m + "x" + k + "x" + n + (bf16 ? " bf16" : ""));
      }
    }
  }

  // gcc's -ffast-math links crtfastmath.o, whose constructor (set_fast_math) turns on
  // flush-to-zero for the JVM thread that loads the library
  @Test
  void theLibraryCarriesNoFastMathConstructor(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
    java.nio.file.Path so = tmp.resolve("lib.so");
    try (var in =
        NativeKernels.class.getResourceAsStream(
            "/dev/gpt2j/native/linux-x86_64/libgpt2j_kernels.so")) {
      java.nio.file.Files.copy(in, so);
    }
    Process nm;
    try {
      nm = new ProcessBuilder("nm", so.toString()).redirectErrorStream(true).start();
    } catch (java.io.IOException e) {
      org.junit.jupiter.api.Assumptions.abort(
          "skipped: no nm (binutils) to list the library's symbols");
      return;
    }
    String symbols =
        new String(nm.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertEquals(0, nm.waitFor(), symbols);
    assertTrue(symbols.contains("mat_vec"), "nm listed no symbols of ours: " + symbols);
    assertFalse(symbols.contains("set_fast_math"), "the library was linked with -ffast-math");
  }

  // GPT-2's blocks decode through one op for all of them (which KernelCheck holds to the graph);
  // blocks the op does not compute (here RMSNorm) through the picoGPT-style graph on the product
  // kernels
  @Test
  void aDecodingStepFusesTheBlocksOfGpt2Only() {
    Architecture rms =
        new Architecture(
            Architecture.Norm.RMSNORM,
            Architecture.Mlp.GELU,
            0,
            Architecture.Position.LEARNED,
            10000,
            0,
            true,
            0,
            2);
    for (DType dtype : List.of(DType.FLOAT32, DType.BFLOAT16)) {
      assertEquals(1, fusedBlocks(new HParams(50, 8, 16, 2, 3), dtype), dtype.label);
      assertEquals(0, fusedBlocks(new HParams(50, 8, 16, 2, 3, rms), dtype), dtype.label);
    }
  }

  // the library's own choice of loops, asked about processors this test does not run on: 0 is
  // generic, 1 avx2, 2 avx512; unset GPT2J_ISA (null) takes the widest without a word
  @ParameterizedTest
  @CsvSource({
    "1, , 1, 0",
    "2, , 2, 0",
    "0, , 0, 0",
    "2, avx2, 1, 0",
    "2, generic, 0, 0",
    "1, avx2, 1, 0",
    "1, avx512, 1, 1",
    "0, avx2, 0, 1",
    "2, sse9, 2, 1",
    "1, AVX2, 1, 1"
  })
  void theLoopsAreTheWidestUnlessANarrowerOneIsAskedFor(
      int has, String asked, int chosen, int refused) {
    IntByReference said = new IntByReference(-1);
    int got =
        NativeKernels.library()
            .getFunction("gpt2j_choose_isa")
            .invokeInt(new Object[] {has, asked, said});
    assertEquals(chosen, got, "has " + has + ", GPT2J_ISA=" + asked);
    assertEquals(refused, said.getValue(), "has " + has + ", GPT2J_ISA=" + asked);
  }

  // the op writes the cache through its ref inputs: TF's registry must know it is not a pure
  // function, or a graph optimizer may merge two of them or fold one away
  @Test
  void theBlocksOpIsStatefulForItWritesTheCache() {
    for (String op : List.of("Gpt2Blocks", "Gpt2BlocksBf16")) {
      assertTrue(TensorFlow.isOpStateful(op), op);
    }
    assertFalse(TensorFlow.isOpStateful("Gpt2MatVecTBf16"), "a product is a pure function");
  }

  private static long fusedBlocks(HParams hp, DType dtype) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      new DecodingGraph(tf, hp, ModelVariables.create(tf, hp, dtype).params());
      Iterable<GraphOperation> ops = g::operations;
      return StreamSupport.stream(ops.spliterator(), false)
          .filter(op -> op.type().startsWith("Gpt2Blocks"))
          .count();
    }
  }

  // the old rule (native kernel whenever T = 1 is static) put them into such a graph, with no
  // gradient: now only a decoding step asks for them
  @Test
  void aTrainingGraphOfOnePositionPerRowTrainsOnTfsMatMul() {
    HParams hp = new HParams(50, 8, 16, 2, 1);
    TrainConfig c =
        TrainConfig.load(null, Map.of("batch_size", "2", "block_size", "1", "xla", "false"));
    try (TrainStep step = new TrainStep(hp, Steps.of(hp, c))) {
      step.initialize(1);
      Batches.Batch b = new Batches.Batch(new int[][] {{3}, {4}}, new int[][] {{5}, {6}});
      assertTrue(Double.isFinite(step.step(List.of(b), 1e-3, 0, false).loss()));
    }
  }

  // a batch the graph does not know: the op at any number of rows (the decoding graph runs it for
  // up to MAX_NATIVE_ROWS, and a MatMul step of its own above)
  @ParameterizedTest
  @CsvSource({"3", "16", "20"})
  void unknownBatchGivesTheProductAtAnyNumberOfRows(int m) {
    Random random = new Random(m);
    float[][] x = randomMatrix(random, m, 24);
    float[][] w = randomMatrix(random, 24, 10);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var xs = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 24)));
      Operand<TFloat32> y = NativeKernels.decodingStep().apply(tf, xs, tf.constant(w), false);
      try (TFloat32 in = TFloat32.tensorOf(StdArrays.ndCopyOf(x));
          Result r = s.runner().feed(xs, in).fetch(y).run()) {
        assertClose(multiply(toDouble(x), toDouble(w)), r.get(0), m + " rows");
      }
    }
  }

  private static float[][] randomMatrix(Random random, int rows, int cols) {
    float[][] a = new float[rows][cols];
    for (float[] row : a) {
      for (int j = 0; j < cols; j++) {
        row[j] = (float) random.nextGaussian();
      }
    }
    return a;
  }

  private static double[][] toDouble(float[][] a) {
    double[][] d = new double[a.length][a[0].length];
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        d[i][j] = a[i][j];
      }
    }
    return d;
  }

  private static double[][] transpose(float[][] a) {
    return transpose(toDouble(a));
  }

  private static double[][] transpose(double[][] a) {
    double[][] t = new double[a[0].length][a.length];
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        t[j][i] = a[i][j];
      }
    }
    return t;
  }

  private static double[][] multiply(double[][] a, double[][] b) {
    double[][] c = new double[a.length][b[0].length];
    for (int i = 0; i < a.length; i++) {
      for (int p = 0; p < b.length; p++) {
        for (int j = 0; j < b[0].length; j++) {
          c[i][j] += a[i][p] * b[p][j];
        }
      }
    }
    return c;
  }

  // float32 sums of up to 768 products of unit normals: relative error well under 1e-5
  private static void assertClose(double[][] expected, org.tensorflow.Tensor actual, String what) {
    TFloat32 t = (TFloat32) actual;
    int cols = expected[0].length;
    float[] got = new float[expected.length * cols];
    t.copyTo(DataBuffers.of(got, false, false));
    for (int i = 0; i < expected.length; i++) {
      for (int j = 0; j < cols; j++) {
        assertEquals(
            expected[i][j],
            got[i * cols + j],
            1e-4 * (1 + Math.abs(expected[i][j])),
            what + " [" + i + ", " + j + "]");
      }
    }
  }
}
