package dev.gpt2j.testing;

/** TF's float32 to bfloat16 cast, written out: round to nearest, ties to even (no NaNs here). */
public final class Bfloat16Rounding {
  private Bfloat16Rounding() {}

  public static float[] round(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      int bits = Float.floatToRawIntBits(v[i]);
      out[i] = Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
    }
    return out;
  }
}
