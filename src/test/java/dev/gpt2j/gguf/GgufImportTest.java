package dev.gpt2j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.cli.CliRunner;
import dev.gpt2j.testing.TinyModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** import-gguf, the inverse of export-gguf: a model comes back and scores as it did. */
class GgufImportTest {
  @TempDir Path tmp;

  private Path exported(Path dir, String ftype) {
    return Exports.gguf(dir, tmp.resolve(ftype + ".gguf"), ftype);
  }

  @Test
  void anExportedModelComesBackAndScoresAsItDid() throws Exception {
    Path original = tmp.resolve("original");
    Map<String, float[]> w = TinyModels.random(GgufExportTest.GPT2, 21);
    TinyModels.write(original, GgufExportTest.GPT2, w);
    Path back = tmp.resolve("back");
    CliRunner.Outcome o =
        CliRunner.run(
            "import-gguf",
            "--gguf",
            exported(original, "f32").toString(),
            "--out",
            back.toString());
    assertEquals(0, o.code(), o.err());
    assertEquals(GgufExportTest.GPT2, ModelDir.hparams(back));
    int[] text = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};
    try (Gpt2Model a = Gpt2Model.load(original);
        Gpt2Model b = Gpt2Model.load(back)) {
      double[] want = a.score(text);
      double[] got = b.score(text);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], 1e-5, "token " + (i + 1));
      }
      Map<String, float[]> weights = b.weights();
      for (Map.Entry<String, float[]> e : w.entrySet()) {
        assertArrayEquals(e.getValue(), weights.get(e.getKey()), e.getKey());
      }
    }
    assertTrue(Files.exists(back.resolve(ModelDir.ENCODER_JSON)), "GPT-2's vocabulary files");
  }

  @Test
  void aHalfExportComesBackAsItsRoundedValues() throws Exception {
    Path original = tmp.resolve("original");
    Map<String, float[]> w = TinyModels.random(GgufExportTest.GPT2, 22);
    TinyModels.write(original, GgufExportTest.GPT2, w);
    Path back = tmp.resolve("back");
    assertEquals(
        0,
        CliRunner.run(
                "import-gguf",
                "--gguf",
                exported(original, "bf16").toString(),
                "--out",
                back.toString())
            .code());
    try (Gpt2Model b = Gpt2Model.load(back)) {
      float[] wte = b.weights().get("model/wte");
      float[] want = w.get("model/wte");
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], wte[i], Math.abs(want[i]) * Math.pow(2, -8), "wte " + i);
      }
      assertArrayEquals(w.get("model/h1/ln_2/b"), b.weights().get("model/h1/ln_2/b"));
    }
  }

  @Test
  void whatIsNotGpt2IsRefusedNamingTheFile() throws Exception {
    Path llama = tmp.resolve("llama");
    TinyModels.write(llama, GgufExportTest.LLAMA, TinyModels.random(GgufExportTest.LLAMA, 1));
    Path file = exported(llama, "f32");
    assertEquals(
        file + ": a model of architecture llama; import reads GPT-2 (gpt2)",
        CliRunner.refusal(
            "import-gguf", "--gguf", file.toString(), "--out", tmp.resolve("a").toString()));
    // a quantized tensor: token_embd's type made Q4_0 (2) in the tensor list
    Path gpt2 = tmp.resolve("gpt2");
    TinyModels.write(gpt2, GgufExportTest.GPT2, TinyModels.random(GgufExportTest.GPT2, 2));
    Path quantized = tmp.resolve("q.gguf");
    byte[] bytes = Files.readAllBytes(exported(gpt2, "f32"));
    byte[] name = "token_embd.weight".getBytes(StandardCharsets.UTF_8);
    int at = lastIndexOf(bytes, name) + name.length + 4 + 2 * 8; // n_dims, two dims, then type
    assertEquals(0, bytes[at]);
    bytes[at] = 2;
    Files.write(quantized, bytes);
    String why =
        CliRunner.refusal(
            "import-gguf", "--gguf", quantized.toString(), "--out", tmp.resolve("b").toString());
    assertTrue(why.contains("token_embd.weight is of ggml type 2 (quantized)"), why);
    assertFalse(Files.exists(tmp.resolve("b").resolve("checkpoint")), "nothing written");
  }

  // the tensor list comes after the keys, whose values may hold the same bytes
  private static int lastIndexOf(byte[] haystack, byte[] needle) {
    for (int i = haystack.length - needle.length; i >= 0; i--) {
      if (java.util.Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
        return i;
      }
    }
    throw new AssertionError("not found");
  }
}
