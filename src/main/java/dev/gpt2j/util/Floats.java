package dev.gpt2j.util;

/**
 * float32 values as the files other programs read keep them: IEEE binary16 and bfloat16, each
 * rounded to nearest with ties to even (numpy's and PyTorch's casts) and read back, and row-major
 * matrices transposed.
 */
public final class Floats {
  private Floats() {}

  /** IEEE 754 binary16 of {@code f}, rounded to nearest, ties to even (numpy's astype(float16)). */
  public static short toHalf(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exponent = (bits >>> 23) & 0xff;
    int mantissa = bits & 0x7fffff;
    if (exponent == 0xff) { // infinity, or NaN kept quiet
      return (short) (sign | 0x7c00 | (mantissa != 0 ? 0x200 : 0));
    }
    int e = exponent - 127 + 15;
    if (e >= 0x1f) {
      return (short) (sign | 0x7c00); // too large: infinity
    }
    if (e <= 0) { // a subnormal half, or zero
      if (e < -10) {
        return (short) sign;
      }
      return (short) (sign | roundedShift(mantissa | 0x800000, 14 - e));
    }
    // a carry out of the mantissa rounds up into the exponent, as it should
    return (short) (sign | roundedShift((e << 23) | mantissa, 13));
  }

  /** The float32 an IEEE 754 binary16 {@code h} stands for (exact: every half is a float). */
  public static float fromHalf(short h) {
    int bits = h & 0xffff;
    int exponent = (bits >>> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    float magnitude =
        exponent == 0
            ? mantissa * 0x1p-24f
            : exponent == 31
                ? (mantissa == 0 ? Float.POSITIVE_INFINITY : Float.NaN)
                : Float.intBitsToFloat(((exponent - 15 + 127) << 23) | (mantissa << 13));
    return (bits & 0x8000) != 0 ? -magnitude : magnitude;
  }

  /** bfloat16 of {@code f} (its top 16 bits), rounded to nearest, ties to even; NaN kept quiet. */
  public static short toBfloat16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7fffffff) > 0x7f800000) {
      return (short) ((bits >>> 16) | 0x40);
    }
    return (short) roundedShift(bits, 16);
  }

  /** {@code m} [rows, cols] row-major, as [cols, rows] row-major. */
  public static float[] transposed(float[] m, int rows, int cols) {
    float[] t = new float[m.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = m[r * cols + c];
      }
    }
    return t;
  }

  // value >> shift, rounded to nearest, ties to even (unsigned)
  private static int roundedShift(int value, int shift) {
    int kept = value >>> shift;
    int rest = value & ((1 << shift) - 1);
    int half = 1 << (shift - 1);
    return rest > half || (rest == half && (kept & 1) != 0) ? kept + 1 : kept;
  }
}
