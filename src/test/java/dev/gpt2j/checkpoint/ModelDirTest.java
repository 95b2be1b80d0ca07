package dev.gpt2j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.HParams;
import dev.gpt2j.testing.TinyModels;
import dev.gpt2j.tokenizer.OpenAiVocabulary;
import dev.gpt2j.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.DataType;

class ModelDirTest {
  @TempDir Path tmp;

  /** OpenAI's tensor names and shapes for a model of shape hp, written out by hand. */
  static Map<String, long[]> openAiTensors(HParams hp) {
    long e = hp.nEmbd();
    Map<String, long[]> m = new LinkedHashMap<>();
    m.put("model/wte", new long[] {hp.nVocab(), e});
    m.put("model/wpe", new long[] {hp.nCtx(), e});
    m.put("model/ln_f/g", new long[] {e});
    m.put("model/ln_f/b", new long[] {e});
    for (int i = 0; i < hp.nLayer(); i++) {
      String h = "model/h" + i + "/";
      m.put(h + "ln_1/g", new long[] {e});
      m.put(h + "ln_1/b", new long[] {e});
      m.put(h + "attn/c_attn/w", new long[] {1, e, 3 * e});
      m.put(h + "attn/c_attn/b", new long[] {3 * e});
      m.put(h + "attn/c_proj/w", new long[] {1, e, e});
      m.put(h + "attn/c_proj/b", new long[] {e});
      m.put(h + "ln_2/g", new long[] {e});
      m.put(h + "ln_2/b", new long[] {e});
      m.put(h + "mlp/c_fc/w", new long[] {1, e, 4 * e});
      m.put(h + "mlp/c_fc/b", new long[] {4 * e});
      m.put(h + "mlp/c_proj/w", new long[] {1, 4 * e, e});
      m.put(h + "mlp/c_proj/b", new long[] {e});
    }
    return m;
  }

  private static Set<String> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  @Test
  void freshModelHasExactlyOpenAisFilesTensorsShapesAndDtypes() throws IOException {
    HParams hp = TinyModels.TINY;
    Path dir = tmp.resolve("fresh");
    try (Gpt2Model model = Gpt2Model.fresh(hp, 1)) {
      model.save(dir);
    }
    assertEquals(
        Set.of(
            "checkpoint",
            "encoder.json",
            "hparams.json",
            "model.ckpt.index",
            "model.ckpt.data-00000-of-00001",
            "vocab.bpe"),
        files(dir));
    assertEquals(
        "model_checkpoint_path: \"model.ckpt\"\nall_model_checkpoint_paths: \"model.ckpt\"\n",
        Files.readString(dir.resolve("checkpoint")));
    assertEquals(hp, ModelDir.readHParams(dir.resolve("hparams.json")));
    Map<String, CheckpointIndex.Entry> entries =
        CheckpointIndex.read(dir.resolve("model.ckpt")).entries();
    Map<String, long[]> expected = openAiTensors(hp);
    assertEquals(new TreeSet<>(expected.keySet()), entries.keySet());
    for (Map.Entry<String, long[]> want : expected.entrySet()) {
      assertArrayEquals(want.getValue(), entries.get(want.getKey()).shape(), want.getKey());
      assertEquals(DataType.DT_FLOAT, entries.get(want.getKey()).dtype(), want.getKey());
    }
  }

  @Test
  void freshModelUsesOpenAisInitialisers() {
    HParams hp = new HParams(500, 300, 64, 4, 1);
    try (Gpt2Model model = Gpt2Model.fresh(hp, 3)) {
      Map<String, float[]> w = model.weights();
      assertStd(w.get("model/wte"), 0.02);
      assertStd(w.get("model/wpe"), 0.01);
      assertStd(w.get("model/h0/mlp/c_fc/w"), 0.02);
      for (float g : w.get("model/h0/ln_1/g")) {
        assertEquals(1f, g);
      }
      for (float b : w.get("model/h0/attn/c_attn/b")) {
        assertEquals(0f, b);
      }
    }
  }

  private static void assertStd(float[] x, double expected) {
    double sum = 0;
    double sq = 0;
    for (float v : x) {
      sum += v;
      sq += v * v;
    }
    double mean = sum / x.length;
    double std = Math.sqrt(sq / x.length - mean * mean);
    assertEquals(0, mean, 4 * expected / Math.sqrt(x.length), "mean");
    assertEquals(expected, std, 0.03 * expected, "stddev");
  }

  @Test
  void sameSeedSameModelOtherSeedOtherModel() {
    HParams hp = TinyModels.TINY;
    try (Gpt2Model a = Gpt2Model.fresh(hp, 5);
        Gpt2Model b = Gpt2Model.fresh(hp, 5);
        Gpt2Model c = Gpt2Model.fresh(hp, 6)) {
      assertArrayEquals(a.weights().get("model/wte"), b.weights().get("model/wte"));
      assertFalse(
          java.util.Arrays.equals(a.weights().get("model/wte"), c.weights().get("model/wte")));
    }
  }

  @Test
  void exportThenImportIsBitIdentical() throws IOException {
    Map<String, float[]> written = TinyModels.writeRandom(tmp.resolve("a"), TinyModels.TINY, 11);
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("a"))) {
      Map<String, float[]> loaded = model.weights();
      for (String name : written.keySet()) {
        assertArrayEquals(written.get(name), loaded.get(name), name);
      }
      model.save(tmp.resolve("b"));
    }
    assertArrayEquals(
        Files.readAllBytes(tmp.resolve("a/model.ckpt.data-00000-of-00001")),
        Files.readAllBytes(tmp.resolve("b/model.ckpt.data-00000-of-00001")));
    assertArrayEquals(
        Files.readAllBytes(tmp.resolve("a/model.ckpt.index")),
        Files.readAllBytes(tmp.resolve("b/model.ckpt.index")));
  }

  @Test
  void everyWrittenModelCarriesOpenAisTokenizerFiles() throws IOException {
    TinyModels.writeRandom(tmp.resolve("a"), TinyModels.TINY, 1);
    try (Gpt2Model model = Gpt2Model.load(tmp.resolve("a"))) {
      model.save(tmp.resolve("b"));
    }
    for (Path dir : List.of(tmp.resolve("a"), tmp.resolve("b"))) {
      assertArrayEquals(
          OpenAiVocabulary.encoderJson(), Files.readAllBytes(dir.resolve("encoder.json")));
      assertArrayEquals(OpenAiVocabulary.vocabBpe(), Files.readAllBytes(dir.resolve("vocab.bpe")));
    }
  }

  @Test
  void latestCheckpointResolvesLikeTensorFlow() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("d"));
    Files.writeString(
        dir.resolve("checkpoint"),
        "model_checkpoint_path: \"model-1000\"\n"
            + "all_model_checkpoint_paths: \"model-500\"\nall_model_checkpoint_paths: \"model-1000\"\n");
    assertEquals(dir.resolve("model-1000"), ModelDir.latestCheckpoint(dir));
    // an absolute path from a directory that was moved: found by its file name
    Files.writeString(
        dir.resolve("checkpoint"), "model_checkpoint_path: \"/gone/elsewhere/model.ckpt\"\n");
    assertEquals(dir.resolve("model.ckpt"), ModelDir.latestCheckpoint(dir));
  }

  private String loadError(Path dir) {
    return assertThrows(RuntimeException.class, () -> Gpt2Model.load(dir).close()).getMessage();
  }

  @Test
  void missingFilesAreNamed() throws IOException {
    assertEquals(
        tmp.resolve("nope") + ": model directory not found", loadError(tmp.resolve("nope")));
    for (String name :
        List.of(
            "hparams.json", "checkpoint", "model.ckpt.index", "model.ckpt.data-00000-of-00001")) {
      Path dir = tmp.resolve("m-" + name);
      TinyModels.writeRandom(dir, TinyModels.TINY, 1);
      Files.delete(dir.resolve(name));
      String message = loadError(dir);
      assertTrue(message.startsWith(dir.resolve(name) + ": "), message);
      assertTrue(message.contains("not found"), message);
    }
  }

  @Test
  void missingTensorWrongShapeAndTruncatedDataAreNamed() throws IOException {
    HParams hp = TinyModels.TINY;
    Path dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, hp, 1);
    Path hparams = dir.resolve("hparams.json");
    Path index = dir.resolve("model.ckpt.index");

    Files.writeString(
        hparams, new HParams(hp.nVocab(), hp.nCtx(), hp.nEmbd(), hp.nHead(), 3).toJson());
    assertEquals(
        index
            + ": tensor 'model/h2/ln_1/g' is missing (the checkpoint has "
            + openAiTensors(hp).size()
            + " tensors)",
        loadError(dir));

    Files.writeString(
        hparams, new HParams(hp.nVocab(), hp.nCtx() * 2, hp.nEmbd(), hp.nHead(), 2).toJson());
    assertEquals(
        index + ": tensor 'model/wpe' has shape [16, 24], expected [32, 24]", loadError(dir));

    Files.writeString(hparams, hp.toJson());
    Path data = dir.resolve("model.ckpt.data-00000-of-00001");
    long size = Files.size(data);
    try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
      f.setLength(size - 100);
    }
    assertEquals(
        data
            + ": truncated: "
            + (size - 100)
            + " bytes, the index (model.ckpt.index) "
            + "describes "
            + size,
        loadError(dir));
  }

  @Test
  void wrongDtypeIsNamed() {
    Path dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, TinyModels.TINY, 1);
    // overwrite the checkpoint with one whose wte is float64
    List<String> names = new ArrayList<>(openAiTensors(TinyModels.TINY).keySet());
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      List<org.tensorflow.Operand<?>> values = new ArrayList<>();
      for (Map.Entry<String, long[]> e : openAiTensors(TinyModels.TINY).entrySet()) {
        values.add(
            e.getKey().equals("model/wte")
                ? tf.zeros(tf.constant(e.getValue()), org.tensorflow.types.TFloat64.class)
                : tf.zeros(tf.constant(e.getValue()), org.tensorflow.types.TFloat32.class));
      }
      String[] slices = new String[names.size()];
      java.util.Arrays.fill(slices, "");
      s.run(
          tf.train.save(
              tf.constant(dir.resolve("model.ckpt").toString()),
              tf.constant(NdArrays.vectorOfObjects(names.toArray(String[]::new))),
              tf.constant(NdArrays.vectorOfObjects(slices)),
              values));
    }
    assertEquals(
        dir.resolve("model.ckpt.index")
            + ": tensor 'model/wte' has dtype DT_DOUBLE, "
            + "expected DT_FLOAT",
        loadError(dir));
  }

  @Test
  void badHparamsAreNamed() throws IOException {
    Path dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, TinyModels.TINY, 1);
    Files.writeString(
        dir.resolve("hparams.json"),
        "{\"n_vocab\": 97, \"n_ctx\": 16, \"n_embd\": 24, \"n_head\": 5, \"n_layer\": 2}");
    assertEquals(
        dir.resolve("hparams.json") + ": n_embd (24) must be a multiple of n_head (5)",
        loadError(dir));
    Files.writeString(dir.resolve("hparams.json"), "{\"n_vocab\": 97}");
    assertEquals(dir.resolve("hparams.json") + ": missing key \"n_ctx\"", loadError(dir));
    Files.writeString(
        dir.resolve("hparams.json"),
        "{\"n_vocab\": 97, \"n_ctx\": \"16\", \"n_embd\": 24, \"n_head\": 3, \"n_layer\": 2}");
    assertEquals(
        dir.resolve("hparams.json") + ": \"n_ctx\" must be an integer, got \"16\"", loadError(dir));
    Files.writeString(dir.resolve("hparams.json"), "{\"n_vocab\": 97,");
    assertTrue(
        loadError(dir).startsWith(dir.resolve("hparams.json") + ": not valid JSON: "),
        loadError(dir));
    Files.delete(dir.resolve("hparams.json"));
    Files.createDirectory(dir.resolve("hparams.json")); // unreadable as a file (tests run as root)
    assertEquals(dir.resolve("hparams.json") + ": is a directory, not a file", loadError(dir));
  }

  @Test
  void writingNeverOverwritesAndAFailedWriteLeavesNothing() throws IOException {
    Path dir = tmp.resolve("m");
    TinyModels.writeRandom(dir, TinyModels.TINY, 1);
    byte[] before = Files.readAllBytes(dir.resolve("model.ckpt.index"));
    try (Gpt2Model model = Gpt2Model.fresh(TinyModels.TINY, 2)) {
      CheckpointException e = assertThrows(CheckpointException.class, () -> model.save(dir));
      assertEquals(
          dir
              + ": already exists and is not empty; choose a new directory "
              + "(nothing was overwritten)",
          e.getMessage());
    }
    assertArrayEquals(before, Files.readAllBytes(dir.resolve("model.ckpt.index")));

    Path target = tmp.resolve("new");
    assertThrows(
        IllegalStateException.class,
        () ->
            ModelDir.writeNew(
                target,
                TinyModels.TINY,
                Tokenizer.GPT2,
                prefix -> {
                  throw new IllegalStateException("killed mid-save");
                }));
    assertFalse(Files.exists(target));
    assertEquals(Set.of("m"), files(tmp)); // no staging directory left behind
  }
}
