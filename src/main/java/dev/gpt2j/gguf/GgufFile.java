package dev.gpt2j.gguf;

import dev.gpt2j.util.Floats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file read as ggml's specification lays it out: its key-value pairs (every value type) and
 * its tensors (F32, F16 and BF16 read as float; quantized types are refused, naming the type).
 * Errors name the file and what is wrong. The file is memory-mapped, so a tensor is read only when
 * asked for.
 */
public final class GgufFile {
  /** A tensor's name, row-major shape, ggml type and where its data starts. */
  public record Tensor(String name, long[] shape, int type, long offset) {
    long elements() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  private final Path path;
  private final Map<String, Object> keys = new LinkedHashMap<>();
  private final Map<String, Tensor> tensors = new LinkedHashMap<>();
  private final MappedByteBuffer data;
  private final long dataStart;

  private GgufFile(Path path, MappedByteBuffer data) {
    this.path = path;
    this.data = data;
    data.order(ByteOrder.LITTLE_ENDIAN);
    if (data.getInt() != GgufWriter.MAGIC) {
      throw wrong("not a GGUF file (its first bytes are not GGUF)");
    }
    int version = data.getInt();
    if (version != 2 && version != GgufWriter.VERSION) {
      throw wrong("GGUF version " + version + "; expected 2 or 3");
    }
    long tensorCount = data.getLong();
    long keyCount = data.getLong();
    for (long i = 0; i < keyCount; i++) {
      String key = string();
      keys.put(key, value(data.getInt()));
    }
    for (long i = 0; i < tensorCount; i++) {
      String name = string();
      long[] shape = new long[data.getInt()];
      for (int d = shape.length - 1; d >= 0; d--) {
        shape[d] = data.getLong(); // fastest-varying first in the file
      }
      tensors.put(name, new Tensor(name, shape, data.getInt(), data.getLong()));
    }
    long alignment = ((Number) keys.getOrDefault("general.alignment", 32L)).longValue();
    dataStart = (data.position() + alignment - 1) / alignment * alignment;
  }

  /** Reads {@code path}'s keys and tensor list. */
  public static GgufFile read(Path path) {
    try (FileChannel channel = FileChannel.open(path)) {
      return new GgufFile(path, channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()));
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
    } catch (BufferUnderflowException | IllegalArgumentException | NegativeArraySizeException e) {
      throw new IllegalArgumentException(path + ": not a whole GGUF file (it ends too soon)", e);
    }
  }

  /** A key's value: a String, Long (any integer type), Float, Double, Boolean or List of them. */
  public Object key(String name) {
    if (!keys.containsKey(name)) {
      throw wrong("no key " + name);
    }
    return keys.get(name);
  }

  public boolean hasKey(String name) {
    return keys.containsKey(name);
  }

  public int integer(String name) {
    if (!(key(name) instanceof Long n)) {
      throw wrong(name + " must be an integer, got " + key(name));
    }
    return Math.toIntExact(n);
  }

  public String string(String name) {
    if (!(key(name) instanceof String s)) {
      throw wrong(name + " must be a string, got " + key(name));
    }
    return s;
  }

  public Map<String, Tensor> tensors() {
    return tensors;
  }

  /** Tensor {@code name}'s values, row-major, as float. */
  public float[] floats(String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw wrong("no tensor " + name);
    }
    GgufWriter.TensorType type = type(t);
    ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    b.position(Math.toIntExact(dataStart + t.offset()));
    float[] out = new float[Math.toIntExact(t.elements())];
    for (int i = 0; i < out.length; i++) {
      out[i] =
          switch (type) {
            case F32 -> b.getFloat();
            case F16 -> Floats.fromHalf(b.getShort());
            case BF16 -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
          };
    }
    return out;
  }

  /** The types this reads; any other (the quantized ones) is refused, naming it. */
  public GgufWriter.TensorType type(Tensor t) {
    for (GgufWriter.TensorType type : GgufWriter.TensorType.values()) {
      if (type.id == t.type()) {
        return type;
      }
    }
    throw wrong(
        t.name()
            + " is of ggml type "
            + t.type()
            + " (quantized); only F32, F16 and BF16 tensors are read: export the model unquantized");
  }

  IllegalArgumentException wrong(String what) {
    return new IllegalArgumentException(path + ": " + what);
  }

  private Object value(int type) {
    return switch (type) {
      case 0, 1, 2, 3, 4, 5, 10, 11 -> integer(type);
      case 6 -> data.getFloat();
      case 7 -> data.get() != 0;
      case 8 -> string();
      case 9 -> {
        int elementType = data.getInt();
        long n = data.getLong();
        List<Object> list = new ArrayList<>();
        for (long i = 0; i < n; i++) {
          list.add(value(elementType));
        }
        yield list;
      }
      case 12 -> data.getDouble();
      default -> throw wrong("unknown value type " + type);
    };
  }

  private Long integer(int type) {
    return switch (type) {
      case 0 -> (long) (data.get() & 0xff);
      case 1 -> (long) data.get();
      case 2 -> (long) (data.getShort() & 0xffff);
      case 3 -> (long) data.getShort();
      case 4 -> data.getInt() & 0xffffffffL;
      case 5 -> (long) data.getInt();
      default -> data.getLong();
    };
  }

  private String string() {
    byte[] bytes = new byte[Math.toIntExact(data.getLong())];
    data.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
