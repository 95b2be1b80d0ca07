package dev.gpt2j.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF reader written from ggml's specification (docs/gguf.md), apart from the writer: every
 * value type, arrays of them, tensor infos and data at general.alignment (default 32), the element
 * types F32, F16 and BF16 decoded here.
 */
final class GgufReader {
  record TensorInfo(String name, long[] dims, int type, long offset) {
    /** Row-major shape: the file lists the fastest-varying dimension first. */
    long[] shape() {
      long[] s = new long[dims.length];
      for (int i = 0; i < dims.length; i++) {
        s[i] = dims[dims.length - 1 - i];
      }
      return s;
    }

    long elements() {
      long n = 1;
      for (long d : dims) {
        n *= d;
      }
      return n;
    }
  }

  final int version;
  final Map<String, Object> keys = new LinkedHashMap<>();
  final Map<String, TensorInfo> tensors = new LinkedHashMap<>();
  final long dataStart;
  final long alignment;
  private final ByteBuffer file;

  GgufReader(Path path) throws IOException {
    try (FileChannel channel = FileChannel.open(path)) {
      file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
    }
    file.order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[4];
    file.get(magic);
    if (!new String(magic, StandardCharsets.US_ASCII).equals("GGUF")) {
      throw new IOException("not GGUF: magic " + new String(magic, StandardCharsets.ISO_8859_1));
    }
    version = file.getInt();
    long tensorCount = file.getLong();
    long keyCount = file.getLong();
    for (long i = 0; i < keyCount; i++) {
      String key = string();
      keys.put(key, value(file.getInt()));
    }
    for (long i = 0; i < tensorCount; i++) {
      String name = string();
      int n = file.getInt();
      long[] dims = new long[n];
      for (int d = 0; d < n; d++) {
        dims[d] = file.getLong();
      }
      tensors.put(name, new TensorInfo(name, dims, file.getInt(), file.getLong()));
    }
    alignment =
        keys.containsKey("general.alignment")
            ? ((Number) keys.get("general.alignment")).longValue()
            : 32;
    dataStart = (file.position() + alignment - 1) / alignment * alignment;
  }

  /** Tensor {@code name}'s elements as float, row-major. */
  float[] floats(String name) {
    TensorInfo t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no tensor " + name);
    }
    float[] out = new float[(int) t.elements()];
    ByteBuffer b = file.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    b.position((int) (dataStart + t.offset()));
    for (int i = 0; i < out.length; i++) {
      out[i] =
          switch (t.type()) {
            case 0 -> b.getFloat();
            case 1 -> half(b.getShort());
            case 30 -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
            default -> throw new IllegalArgumentException(name + ": type " + t.type());
          };
    }
    return out;
  }

  long fileSize() {
    return file.capacity();
  }

  // IEEE binary16 to float
  static float half(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) != 0 ? -1 : 1;
    int exponent = (bits >>> 10) & 0x1f;
    int mantissa = bits & 0x3ff;
    if (exponent == 0) {
      return sign * mantissa * (float) Math.pow(2, -24);
    }
    if (exponent == 31) {
      return mantissa == 0 ? sign * Float.POSITIVE_INFINITY : Float.NaN;
    }
    return sign * (1 + mantissa / 1024f) * (float) Math.pow(2, exponent - 15);
  }

  private Object value(int type) {
    return switch (type) {
      case 0 -> file.get() & 0xff;
      case 1 -> (int) file.get();
      case 2 -> file.getShort() & 0xffff;
      case 3 -> (int) file.getShort();
      case 4 -> file.getInt() & 0xffffffffL;
      case 5 -> file.getInt();
      case 6 -> file.getFloat();
      case 7 -> {
        byte b = file.get();
        if (b != 0 && b != 1) {
          throw new IllegalStateException("bool must be 0 or 1, got " + b);
        }
        yield b == 1;
      }
      case 8 -> string();
      case 9 -> {
        int elementType = file.getInt();
        long n = file.getLong();
        List<Object> list = new ArrayList<>();
        for (long i = 0; i < n; i++) {
          list.add(value(elementType));
        }
        yield list;
      }
      case 10 -> file.getLong();
      case 11 -> file.getLong();
      case 12 -> file.getDouble();
      default -> throw new IllegalStateException("unknown value type " + type);
    };
  }

  private String string() {
    long n = file.getLong();
    byte[] bytes = new byte[(int) n];
    file.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
