package dev.gpt2j.checkpoint;

import dev.gpt2j.model.Architecture;
import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Floats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a GPT-2 model in the file format of ggml's {@code examples/gpt-2}, as its {@code
 * convert-ckpt-to-ggml.py} writes OpenAI's checkpoint: a header of hyperparameters, the
 * vocabulary's byte strings by id, then each tensor with its leading 1 dimensions dropped, the four
 * projection matrices transposed to [out, in], matrices ({@code model/wte} and every {@code /w}) in
 * float16 when asked and everything else float32. All little-endian. Lets ggml run a model trained
 * here, and lets the benchmarks run ggml on the very checkpoint we decode.
 */
public final class GgmlExport {
  private static final int MAGIC = 0x67676d6c; // "ggml"

  private GgmlExport() {}

  /**
   * Writes {@code weights} (by OpenAI's names, with their {@code shapes}) to {@code out},
   * atomically; {@code f16} writes the matrices as float16.
   */
  public static void write(
      Path out,
      HParams hp,
      Tokenizer tokenizer,
      Map<String, float[]> weights,
      Map<String, long[]> shapes,
      boolean f16) {
    requireExportable(hp, tokenizer);
    Path temp = AtomicFiles.tempSibling(out);
    try (FileChannel file =
        FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer header = little(7 * 4);
      for (int v : new int[] {MAGIC, hp.nVocab(), hp.nCtx(), hp.nEmbd(), hp.nHead(), hp.nLayer()}) {
        header.putInt(v);
      }
      header.putInt(f16 ? 1 : 0);
      drain(file, header);
      writeVocabulary(file, tokenizer);
      for (Map.Entry<String, float[]> e : new TreeMap<>(weights).entrySet()) {
        writeTensor(file, e.getKey(), e.getValue(), shapes.get(e.getKey()), f16);
      }
      file.force(true);
      AtomicFiles.move(temp, out);
    } catch (IOException e) {
      AtomicFiles.deleteQuietly(temp);
      throw new UncheckedIOException(out + ": cannot write: " + e.getMessage(), e);
    }
  }

  /** Refuses, in one line, a model that ggml's gpt-2 example cannot run. */
  public static void requireExportable(HParams hp, Tokenizer tokenizer) {
    if (!hp.arch().equals(Architecture.GPT2) || tokenizer.size() != hp.nVocab()) {
      throw new IllegalArgumentException(
          "ggml's gpt-2 example reads GPT-2 itself with GPT-2's vocabulary; this model is "
              + hp.describe());
    }
  }

  private static void writeVocabulary(FileChannel file, Tokenizer tokenizer) throws IOException {
    ByteBuffer count = little(4).putInt(tokenizer.size());
    drain(file, count);
    for (int id = 0; id < tokenizer.size(); id++) {
      byte[] token = tokenizer.decodeBytes(id);
      drain(file, little(4 + token.length).putInt(token.length).put(token));
    }
  }

  private static void writeTensor(
      FileChannel file, String name, float[] values, long[] shape, boolean f16) throws IOException {
    long[] dims = java.util.Arrays.stream(shape).dropWhile(d -> d == 1).toArray(); // squeeze()
    boolean transpose = isProjection(name);
    if (transpose) {
      dims = new long[] {dims[1], dims[0]};
    }
    boolean half = f16 && (name.equals("model/wte") || name.endsWith("/w"));
    byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
    ByteBuffer header = little(12 + 4 * dims.length + utf8.length);
    header.putInt(dims.length).putInt(utf8.length).putInt(half ? 1 : 0);
    for (int i = dims.length - 1; i >= 0; i--) {
      header.putInt((int) dims[i]);
    }
    drain(file, header.put(utf8));
    float[] data = transpose ? Floats.transposed(values, (int) dims[1], (int) dims[0]) : values;
    ByteBuffer body = little(data.length * (half ? 2 : 4));
    for (float v : data) {
      if (half) {
        body.putShort(Floats.toHalf(v));
      } else {
        body.putFloat(v);
      }
    }
    drain(file, body);
  }

  // c_attn, c_proj and c_fc's [in, out] matrices: ggml keeps them [out, in]
  private static boolean isProjection(String name) {
    return name.endsWith("/attn/c_attn/w")
        || name.endsWith("/attn/c_proj/w")
        || name.endsWith("/mlp/c_fc/w")
        || name.endsWith("/mlp/c_proj/w");
  }

  private static ByteBuffer little(int bytes) {
    return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void drain(FileChannel file, ByteBuffer b) throws IOException {
    b.flip();
    while (b.hasRemaining()) {
      file.write(b);
    }
  }
}
