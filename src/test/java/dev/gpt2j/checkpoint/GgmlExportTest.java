package dev.gpt2j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.tokenizer.Gpt2Tokenizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * export-ggml against ggml's reader, written here from its gpt2_model_load: every tensor found by
 * name with its dimensions, projections transposed, float16 within half precision of the weights.
 */
class GgmlExportTest {
  static final HParams HP = new HParams(50257, 12, 16, 2, 2);

  @Test
  void halvesRoundToNearestEvenAsIeeeDefinesThem() {
    float[] in = {
      1f,
      -2f,
      65504f,
      65520f,
      1f / 3,
      0x1p-24f,
      0x1p-25f,
      3 * 0x1p-25f,
      0.1f,
      1 + 0x1p-11f,
      1 + 3 * 0x1p-11f,
      Float.NaN,
      Float.NEGATIVE_INFINITY,
      0x1p-14f
    };
    int[] expected = {
      0x3c00, 0xc000, 0x7bff, 0x7c00, 0x3555, 0x0001, 0x0000, 0x0002, 0x2e66, 0x3c00, 0x3c02,
      0x7e00, 0xfc00, 0x0400
    };
    for (int i = 0; i < in.length; i++) {
      assertEquals(expected[i], dev.gpt2j.util.Floats.toHalf(in[i]) & 0xffff, "half of " + in[i]);
    }
    // and back (import-gguf): every one of the 65,536 halves is a float, and rounds to itself
    for (int h = 0; h < 0x10000; h++) {
      float f = dev.gpt2j.util.Floats.fromHalf((short) h);
      if (!Float.isNaN(f)) {
        assertEquals(h, dev.gpt2j.util.Floats.toHalf(f) & 0xffff, "half " + Integer.toHexString(h));
      }
    }
    assertEquals(1f, dev.gpt2j.util.Floats.fromHalf((short) 0x3c00));
    assertEquals(0x1p-24f, dev.gpt2j.util.Floats.fromHalf((short) 0x0001));
    assertEquals(-2f, dev.gpt2j.util.Floats.fromHalf((short) 0xc000));
  }

  @Test
  void ggmlsReaderFindsEveryTensorTransposedWhereItExpectsIt(@TempDir Path tmp) throws Exception {
    Map<String, float[]> weights = TinyModels.writeRandom(tmp.resolve("m"), HP, 9);
    for (String ftype : new String[] {"f32", "f16"}) {
      Path out = tmp.resolve("model-" + ftype + ".bin");
      CliRunner.Outcome o =
          CliRunner.run(
              "export-ggml",
              "--model-dir",
              tmp.resolve("m").toString(),
              "--out",
              out.toString(),
              "--ftype",
              ftype);
      assertEquals(0, o.code(), o.err());
      ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
      assertArrayEquals(
          new int[] {0x67676d6c, 50257, 12, 16, 2, 2, ftype.equals("f16") ? 1 : 0},
          new int[] {
            b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt()
          });
      assertEquals(50257, b.getInt());
      for (int id = 0; id < 50257; id++) {
        byte[] token = new byte[b.getInt()];
        b.get(token);
        if (id == 15496) {
          assertEquals("Hello", new String(token, StandardCharsets.UTF_8));
        }
        if (id == 50256) {
          assertEquals(
              Gpt2Tokenizer.decode(new int[] {50256}), new String(token, StandardCharsets.UTF_8));
        }
      }
      Map<String, float[]> read = new HashMap<>();
      while (b.hasRemaining()) {
        int nDims = b.getInt();
        byte[] name = new byte[b.getInt()];
        int type = b.getInt();
        int[] ne = new int[nDims];
        int n = 1;
        for (int i = 0; i < nDims; i++) {
          ne[i] = b.getInt();
          n *= ne[i];
        }
        b.get(name);
        String key = new String(name, StandardCharsets.UTF_8);
        float[] data = new float[n];
        for (int i = 0; i < n; i++) {
          data[i] = type == 1 ? fromHalf(b.getShort()) : b.getFloat();
        }
        assertEquals(
            ftype.equals("f16") && (key.equals("model/wte") || key.endsWith("/w")), type == 1, key);
        int expectedRows = rows(key);
        assertEquals(expectedRows, nDims == 1 ? 1 : ne[1], key + ": ggml's ne[1]");
        read.put(key, data);
      }
      assertEquals(weights.keySet(), read.keySet());
      double tolerance = ftype.equals("f16") ? 0x1p-10 : 0;
      for (String key : weights.keySet()) {
        float[] w = weights.get(key);
        float[] got = read.get(key);
        boolean transposed = key.matches(".*/(attn/c_attn|attn/c_proj|mlp/c_fc|mlp/c_proj)/w");
        int rows = rows(key);
        int cols = w.length / rows;
        for (int r = 0; r < rows; r++) {
          for (int c = 0; c < cols; c++) {
            float expected = transposed ? w[c * rows + r] : w[r * cols + c];
            assertEquals(
                expected, got[r * cols + c], tolerance * Math.max(1, Math.abs(expected)), key);
          }
        }
      }
    }
  }

  @Test
  void aModelGgmlsExampleCannotRunIsRefused(@TempDir Path tmp) {
    HParams llama =
        new HParams(
            50257, 12, 16, 2, 1, dev.gpt2j.model.Architecture.fromText(Map.of("norm", "rmsnorm")));
    TinyModels.writeRandom(tmp.resolve("m"), llama, 2);
    CliRunner.Outcome o =
        CliRunner.run(
            "export-ggml",
            "--model-dir",
            tmp.resolve("m").toString(),
            "--out",
            tmp.resolve("x.bin").toString());
    assertEquals(2, o.code(), o.err());
    assertEquals(
        "gpt2 export-ggml: ggml's gpt-2 example reads GPT-2 itself with GPT-2's vocabulary; this"
            + " model is "
            + llama.describe()
            + "\n",
        o.err());
    assertEquals(false, Files.exists(tmp.resolve("x.bin")));
  }

  // the rows ggml's loader expects (ne[1]): projections [out, in], embeddings [n_vocab|n_ctx, C]
  private static int rows(String key) {
    int c = HP.nEmbd();
    if (key.equals("model/wte")) {
      return HP.nVocab();
    }
    if (key.equals("model/wpe")) {
      return HP.nCtx();
    }
    if (key.endsWith("attn/c_attn/w")) {
      return 3 * c;
    }
    if (key.endsWith("mlp/c_fc/w")) {
      return 4 * c;
    }
    if (key.endsWith("c_proj/w")) {
      return c;
    }
    return 1; // vectors
  }

  // binary16 -> float, from the format's definition
  private static float fromHalf(short h) {
    int sign = (h >> 15) & 1;
    int exponent = (h >> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    double v =
        exponent == 0
            ? mantissa * Math.pow(2, -24)
            : exponent == 31
                ? (mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                : (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
    return (float) (sign == 1 ? -v : v);
  }
}
