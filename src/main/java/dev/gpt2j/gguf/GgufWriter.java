package dev.gpt2j.gguf;

import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Floats;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A GGUF v3 file as ggml's specification (docs/gguf.md) lays it out, little-endian: the header
 * (magic, version, tensor and key counts), the key-value pairs, each tensor's name, dimensions
 * (fastest-varying first), type and offset, then the tensors' data, each starting at a multiple of
 * {@link #ALIGNMENT} bytes. Written to a temporary sibling and renamed: all of it or nothing.
 */
public final class GgufWriter {
  /** "GGUF" as a little-endian uint32. */
  public static final int MAGIC = 0x46554747;

  public static final int VERSION = 3;

  /** general.alignment's default, which these files keep. */
  public static final int ALIGNMENT = 32;

  /** A metadata value's type, by the specification's number. */
  public enum ValueType {
    UINT8(0),
    INT8(1),
    UINT16(2),
    INT16(3),
    UINT32(4),
    INT32(5),
    FLOAT32(6),
    BOOL(7),
    STRING(8),
    ARRAY(9),
    UINT64(10),
    INT64(11),
    FLOAT64(12);

    public final int id;

    ValueType(int id) {
      this.id = id;
    }
  }

  /** A tensor's type, by ggml's number (ggml_type), and its bytes per element. */
  public enum TensorType {
    F32(0, 4),
    F16(1, 2),
    BF16(30, 2);

    public final int id;
    public final int bytes;

    TensorType(int id, int bytes) {
      this.id = id;
      this.bytes = bytes;
    }
  }

  private record Entry(String key, ValueType type, Consumer<Out> value) {}

  private record Tensor(String name, long[] shape, TensorType type, float[] values) {
    long bytes() {
      return (long) values.length * type.bytes;
    }
  }

  private final List<Entry> entries = new ArrayList<>();
  private final List<Tensor> tensors = new ArrayList<>();

  public GgufWriter string(String key, String value) {
    entries.add(new Entry(key, ValueType.STRING, o -> o.string(value)));
    return this;
  }

  public GgufWriter uint32(String key, long value) {
    entries.add(new Entry(key, ValueType.UINT32, o -> o.int32((int) value)));
    return this;
  }

  public GgufWriter float32(String key, float value) {
    entries.add(new Entry(key, ValueType.FLOAT32, o -> o.float32(value)));
    return this;
  }

  public GgufWriter bool(String key, boolean value) {
    entries.add(new Entry(key, ValueType.BOOL, o -> o.int8(value ? 1 : 0)));
    return this;
  }

  public GgufWriter strings(String key, List<String> values) {
    entries.add(
        new Entry(
            key,
            ValueType.ARRAY,
            o -> {
              o.int32(ValueType.STRING.id);
              o.int64(values.size());
              values.forEach(o::string);
            }));
    return this;
  }

  public GgufWriter int32s(String key, int[] values) {
    entries.add(
        new Entry(
            key,
            ValueType.ARRAY,
            o -> {
              o.int32(ValueType.INT32.id);
              o.int64(values.length);
              for (int v : values) {
                o.int32(v);
              }
            }));
    return this;
  }

  /**
   * A tensor of row-major {@code shape} (as numpy would give it; the file lists its dimensions the
   * other way round, fastest first), written as {@code type}.
   */
  public GgufWriter tensor(String name, long[] shape, TensorType type, float[] values) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n != values.length) {
      throw new IllegalArgumentException(
          name + ": " + values.length + " values for shape " + java.util.Arrays.toString(shape));
    }
    tensors.add(new Tensor(name, shape, type, values));
    return this;
  }

  /** Writes the file atomically; errors name it. */
  public void write(Path file) {
    Path temp = AtomicFiles.tempSibling(file);
    try (OutputStream stream = new BufferedOutputStream(Files.newOutputStream(temp), 1 << 20)) {
      Out o = new Out(stream);
      o.int32(MAGIC);
      o.int32(VERSION);
      o.int64(tensors.size());
      o.int64(entries.size());
      for (Entry e : entries) {
        o.string(e.key);
        o.int32(e.type.id);
        e.value.accept(o);
      }
      long offset = 0;
      for (Tensor t : tensors) {
        o.string(t.name);
        o.int32(t.shape.length);
        for (int i = t.shape.length - 1; i >= 0; i--) {
          o.int64(t.shape[i]);
        }
        o.int32(t.type.id);
        o.int64(offset);
        offset = aligned(offset + t.bytes());
      }
      o.pad();
      for (Tensor t : tensors) {
        o.values(t.values, t.type);
        o.pad();
      }
      stream.flush();
      o.check(offset);
    } catch (IOException | UncheckedIOException e) {
      AtomicFiles.deleteQuietly(temp);
      throw cannotWrite(file, e);
    }
    try {
      AtomicFiles.move(temp, file);
    } catch (IOException e) {
      AtomicFiles.deleteQuietly(temp);
      throw cannotWrite(file, e);
    }
  }

  private static UncheckedIOException cannotWrite(Path file, Exception e) {
    Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
    IOException io = cause instanceof IOException i ? i : new IOException(cause);
    return new UncheckedIOException(file + ": cannot write: " + io.getMessage(), io);
  }

  static long aligned(long offset) {
    return (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  }

  // little-endian output, counting its bytes for the alignment
  private static final class Out {
    private final DataOutputStream out;
    private final ByteBuffer eight = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    private long written;
    private long dataStart = -1;

    Out(OutputStream stream) {
      this.out = new DataOutputStream(stream);
    }

    void int8(int v) {
      bytes(new byte[] {(byte) v});
    }

    void int32(int v) {
      eight.clear();
      bytes(eight.putInt(v).array(), 4);
    }

    void int64(long v) {
      eight.clear();
      bytes(eight.putLong(v).array(), 8);
    }

    void float32(float v) {
      int32(Float.floatToRawIntBits(v));
    }

    void string(String s) {
      byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
      int64(utf8.length);
      bytes(utf8);
    }

    void values(float[] values, TensorType type) {
      ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        if (chunk.remaining() < 4) {
          bytes(chunk.array(), chunk.position());
          chunk.clear();
        }
        switch (type) {
          case F32 -> chunk.putFloat(v);
          case F16 -> chunk.putShort(Floats.toHalf(v));
          case BF16 -> chunk.putShort(Floats.toBfloat16(v));
        }
      }
      bytes(chunk.array(), chunk.position());
    }

    // zeros up to the next multiple of ALIGNMENT; the first call marks where the data starts
    void pad() {
      bytes(new byte[(int) (aligned(written) - written)]);
      if (dataStart < 0) {
        dataStart = written;
      }
    }

    void check(long dataBytes) {
      if (written - dataStart != dataBytes) {
        throw new IllegalStateException(
            "wrote " + (written - dataStart) + " bytes of tensor data, laid out " + dataBytes);
      }
    }

    private void bytes(byte[] b) {
      bytes(b, b.length);
    }

    private void bytes(byte[] b, int n) {
      try {
        out.write(b, 0, n);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      written += n;
    }
  }
}
