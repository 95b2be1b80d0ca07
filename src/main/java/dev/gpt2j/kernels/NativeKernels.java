package dev.gpt2j.kernels;

import com.sun.jna.NativeLibrary;
import dev.gpt2j.model.Product;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.Operand;
import org.tensorflow.TensorFlow;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpList;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TNumber;

/**
 * Our own TF op library ({@code src/main/c}) for decoding steps: matrix-vector products, which read
 * the weights (float32, or bfloat16 widened as read) faster than TF's MatMul does for one row per
 * sequence (docs/benchmarks.md, "Sampling"), and a step's blocks in one op ({@link FusedBlocks}).
 * The library is built with the jar when a C compiler is there; without it, or with {@code
 * GPT2J_NATIVE=0} in the environment, {@link #decodingStep} is TF's MatMul, there are no fused
 * blocks, and one line says why.
 */
public final class NativeKernels {
  private NativeKernels() {}

  private static final String LIBRARY = "/dev/gpt2j/native/linux-x86_64/libgpt2j_kernels.so";
  private static final Set<String> OPS =
      Set.of("Gpt2MatVec", "Gpt2MatVecT", "Gpt2MatVecTBf16", "Gpt2Blocks", "Gpt2BlocksBf16");

  /** Up to this many rows the native ops beat MatMul here; above, MatMul's blocked GEMM wins. */
  public static final int MAX_NATIVE_ROWS = 16;

  // loaded when a decoding step's graph first asks for it
  private static final class Library {
    static final boolean LOADED = load();
  }

  private static Path loadedFrom; // the library file TF loaded, when it did

  /**
   * Which loops the library runs: "avx512", "avx2" or "generic", chosen when it loads from what the
   * processor has, or forced narrower with {@code GPT2J_ISA}; empty when it is not loaded.
   */
  public static Optional<String> instructionSet() {
    if (!loaded()) {
      return Optional.empty();
    }
    return Optional.of(library().getFunction("gpt2j_isa").invokeString(new Object[0], false));
  }

  // the loaded library's own functions, beside the ops TF registered from it
  static NativeLibrary library() {
    return NativeLibrary.getInstance(loadedFrom.toString());
  }

  /** Whether our ops are registered in this process (loads them on first call). */
  public static boolean loaded() {
    return Library.LOADED;
  }

  /**
   * The product for a decoding step's graph, whose every row is one position of its own sequence:
   * our matrix-vector op, for a graph run with at most {@value #MAX_NATIVE_ROWS} rows (TF's MatMul
   * where the batch is static and larger: a caller with more rows runs a MatMul graph of its own);
   * TF's MatMul alone when the library is not loaded. A new one for each graph: it may keep copies
   * of the weights ({@link StepProduct}).
   */
  public static StepProduct decodingStep() {
    return new StepProduct(loaded());
  }

  /**
   * A decoding step's product. Bfloat16 weights stored [in, out] (OpenAI's layout) are read from a
   * copy of their own held [out, in], so that each output is one dot product summed in registers:
   * widening bfloat16 as it is read leaves the [in, out] loop, which loads and stores its partial
   * sums for every few multiply-adds, compute-bound (docs/benchmarks.md, "Weights held [out, in]
   * for bfloat16 decoding"). The copies are filled by {@link #repack}, to be run whenever the
   * weights change (after a restore or an initialisation).
   */
  public static final class StepProduct implements Product {
    private final boolean nativeKernels;
    private final List<Op> copies = new ArrayList<>();

    private StepProduct(boolean nativeLoaded) {
      this.nativeKernels = nativeLoaded;
    }

    @Override
    public Operand<TFloat32> apply(
        Ops tf, Operand<TFloat32> x, Operand<? extends TNumber> w, boolean transposeW) {
      if (!nativeKernels) {
        return Product.MATMUL.apply(tf, x, w, transposeW);
      }
      if (transposeW || w.type() != TBfloat16.class) {
        return oneRowPerSequence(tf, x, w, transposeW);
      }
      Operand<TBfloat16> read =
          tf.ensureShape(outIn(tf, w), Shape.of(w.shape().get(1), w.shape().get(0)));
      return oneRowPerSequence(tf, x, read, true);
    }

    /**
     * A block's matrix as {@link FusedBlocks} reads it: float32 as stored ([1, K, N]), bfloat16
     * from a copy held [N, K].
     */
    Operand<? extends TNumber> blockWeight(Ops tf, Operand<? extends TNumber> w) {
      if (w.type() != TBfloat16.class) {
        return w;
      }
      Shape s = w.shape();
      long k = s.get(s.numDimensions() - 2);
      return outIn(tf, tf.reshape(w, tf.constant(new long[] {k, s.get(s.numDimensions() - 1)})));
    }

    /**
     * The vectors [n_i] one after another in a copy of their own [sum n_i], filled by {@link
     * #repack}: one variable for an op to read, where each of them is a lookup of its own.
     */
    Operand<TFloat32> packed(Ops tf, List<Operand<TFloat32>> vectors) {
      Ops s = tf.withSubScope("packed");
      Variable<TFloat32> packed = s.variable(Shape.unknown(), TFloat32.class);
      copies.add(s.assign(packed, s.concat(vectors, s.constant(0)), Assign.validateShape(false)));
      return packed;
    }

    // a copy of bfloat16 w [K, N] held [N, K], filled by repack
    private Variable<TBfloat16> outIn(Ops tf, Operand<? extends TNumber> w) {
      @SuppressWarnings("unchecked")
      Operand<TBfloat16> inOut = (Operand<TBfloat16>) w;
      Ops s = tf.withSubScope("out_in");
      Variable<TBfloat16> outIn = s.variable(Shape.unknown(), TBfloat16.class);
      copies.add(
          s.assign(
              outIn,
              s.linalg.transpose(inOut, s.constant(new int[] {1, 0})),
              Assign.validateShape(false)));
      return outIn;
    }

    /** The ops that fill the copies: bfloat16 matrices held [out, in], and packed vectors. */
    public List<Op> repack() {
      return copies;
    }
  }

  private static Operand<TFloat32> oneRowPerSequence(
      Ops tf, Operand<TFloat32> x, Operand<? extends TNumber> w, boolean transposeW) {
    long rows = x.shape().isUnknown() ? -1 : x.shape().get(0);
    return rows > MAX_NATIVE_ROWS
        ? Product.MATMUL.apply(tf, x, w, transposeW)
        : matVec(tf, x, w, transposeW);
  }

  private static Operand<TFloat32> matVec(
      Ops tf, Operand<TFloat32> x, Operand<? extends TNumber> w, boolean transposeW) {
    String type =
        (transposeW ? "Gpt2MatVecT" : "Gpt2MatVec") + (w.type() == TBfloat16.class ? "Bf16" : "");
    return tf.scope()
        .opBuilder(type, type)
        .addInput(x.asOutput())
        .addInput(w.asOutput())
        .build()
        .output(0);
  }

  private static boolean load() {
    if ("0".equals(System.getenv("GPT2J_NATIVE"))) {
      return false; // asked for, to compare: no line
    }
    String why = tryLoad();
    if (why != null) {
      System.err.println(
          "[gpt2j] native decoding kernels not loaded (" + why + "); decoding uses TF's MatMul");
    }
    return why == null;
  }

  // null when both ops are registered, else why not
  private static String tryLoad() {
    if (!System.getProperty("os.name").startsWith("Linux")
        || !System.getProperty("os.arch").equals("amd64")) {
      return "they are built for Linux x86-64 only";
    }
    try (InputStream in = NativeKernels.class.getResourceAsStream(LIBRARY)) {
      if (in == null) {
        return "the jar was built without them: no working C compiler";
      }
      Path file = Files.createTempFile("gpt2j_kernels", ".so");
      file.toFile().deleteOnExit();
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      OpList registered = TensorFlow.loadLibrary(file.toString());
      loadedFrom = file;
      Set<String> names = Set.copyOf(registered.getOpList().stream().map(OpDef::getName).toList());
      return names.containsAll(OPS)
          ? null
          : "the library registered " + names + ", expected " + OPS;
    } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
      return e.getMessage();
    }
  }
}
