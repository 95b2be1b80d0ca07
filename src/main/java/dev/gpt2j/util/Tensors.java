package dev.gpt2j.util;

import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TInt32;

/** Java arrays to tensors. */
public final class Tensors {
  private Tensors() {}

  /** [rows, columns] int32 from equal-length rows. */
  public static TInt32 matrix(int[][] rows) {
    int t = rows[0].length;
    int[] flat = new int[rows.length * t];
    for (int b = 0; b < rows.length; b++) {
      System.arraycopy(rows[b], 0, flat, b * t, t);
    }
    return TInt32.tensorOf(Shape.of(rows.length, t), DataBuffers.of(flat, true, false));
  }
}
