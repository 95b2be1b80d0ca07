package dev.gpt2j.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.SwitchCond;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;

/**
 * Matrix-vector products for decoding, from our own TF op library ({@code src/main/c}), which
 * reads the weights about 1.4 times as fast as TF's MatMul does for one row (docs/benchmarks.md).
 * The library is built with the jar when a C compiler is there; without it, or with
 * {@code GPT2J_NATIVE=0} in the environment, {@link #product} builds TF's MatMul instead.
 */
public final class NativeKernels {
  private NativeKernels() {}

  private static final String LIBRARY = "/dev/gpt2j/native/linux-x86_64/libgpt2j_kernels.so";

  // Loaded when a decoding product first asks, so graphs without one (training) never load it
  private static final class Library {
    static final boolean LOADED = load();
  }

  /** Whether the matrix-vector ops are registered in this process (loads them on first call). */
  public static boolean loaded() {
    return Library.LOADED;
  }

  /** Up to this many rows, the native ops beat MatMul here; above, MatMul's blocked GEMM wins. */
  static final int MAX_NATIVE_ROWS = 16;

  /**
   * {@code x} [M, K] times {@code w} ([K, N], or [N, K] with {@code transposeW}) -> [M, N]. With
   * {@code oneRowPerSequence} (each row is one position of its own sequence, as in a decoding
   * step) and the library loaded, our matrix-vector op for batches of at most
   * {@value #MAX_NATIVE_ROWS} rows (chosen at run time when the batch is not static); else TF's
   * MatMul.
   */
  public static Operand<TFloat32> product(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w,
                                          boolean transposeW, boolean oneRowPerSequence) {
    long rows = x.shape().isUnknown() ? -1 : x.shape().get(0);
    if (!oneRowPerSequence || rows > MAX_NATIVE_ROWS || !loaded()) {
      return matMul(tf, x, w, transposeW);
    }
    if (rows >= 0) {
      return matVec(tf, x, w, transposeW);
    }
    Operand<TBool> few = tf.math.lessEqual(Gpt2.dim(tf, x, 0), tf.constant(MAX_NATIVE_ROWS));
    SwitchCond<TFloat32> branch = tf.switchCond(x, few);
    return tf.merge(List.of(matVec(tf, branch.outputTrue(), w, transposeW),
        matMul(tf, branch.outputFalse(), w, transposeW))).output();
  }

  private static Operand<TFloat32> matMul(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w,
                                          boolean transposeW) {
    return tf.linalg.matMul(x, w, MatMul.transposeB(transposeW));
  }

  private static Operand<TFloat32> matVec(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w,
                                          boolean transposeW) {
    String type = transposeW ? "Gpt2MatVecT" : "Gpt2MatVec";
    return tf.scope().opBuilder(type, type).addInput(x.asOutput()).addInput(w.asOutput()).build()
        .output(0);
  }

  private static boolean load() {
    if ("0".equals(System.getenv("GPT2J_NATIVE"))) {
      return false;
    }
    if (!System.getProperty("os.name").startsWith("Linux") || !System.getProperty("os.arch").equals("amd64")) {
      return false;
    }
    try (InputStream in = NativeKernels.class.getResourceAsStream(LIBRARY)) {
      if (in == null) {
        return false;  // built without a C compiler
      }
      Path file = Files.createTempFile("gpt2j_kernels", ".so");
      file.toFile().deleteOnExit();
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      TensorFlow.loadLibrary(file.toString());
      registerGradients();
      return true;
    } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
      System.err.println("[gpt2j] native decoding kernels not loaded (" + e.getMessage()
          + "); decoding uses TF's MatMul");
      return false;
    }
  }

  // So a graph may differentiate through them (a training block of one position): the
  // gradients of x w and x w^T, as MatMuls
  private static void registerGradients() {
    TensorFlow.registerCustomGradient("Gpt2MatVec", (tf, op, upstream) -> {
      Operand<TFloat32> x = op.input(0).expect(TFloat32.class);
      Operand<TFloat32> w = op.input(1).expect(TFloat32.class);
      Operand<TFloat32> dy = upstream.get(0).expect(TFloat32.class);
      return List.of(tf.linalg.matMul(dy, w, MatMul.transposeB(true)),
          tf.linalg.matMul(x, dy, MatMul.transposeA(true)));
    });
    TensorFlow.registerCustomGradient("Gpt2MatVecT", (tf, op, upstream) -> {
      Operand<TFloat32> x = op.input(0).expect(TFloat32.class);
      Operand<TFloat32> w = op.input(1).expect(TFloat32.class);
      Operand<TFloat32> dy = upstream.get(0).expect(TFloat32.class);
      return List.of(tf.linalg.matMul(dy, w), tf.linalg.matMul(dy, x, MatMul.transposeA(true)));
    });
  }
}
