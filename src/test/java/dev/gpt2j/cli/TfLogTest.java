package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TfLogTest {
  @Test
  void dropsTfAndProtobufNoiseAndKeepsEverythingElse() throws IOException {
    String in = String.join("\n",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795352157.872117    9418 device_compiler.h:188] Compiled cluster using XLA!",
        "[libprotobuf ERROR external/com_google_protobuf/src/google/protobuf/text_format.cc:337] "
            + "Error parsing text-format tensorflow.XlaSerializedCacheEntry: 2:1: Expected identifier, got: 5",
        "iter 50/500: loss 8.3871",
        "Waiting for the W1 lock",
        "[libprotobuf ERROR somewhere else] kept: not the cache's text-format complaint",
        "gpt2 train: data/x/train.bin: not found",
        "");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TfLog.filter(new ByteArrayInputStream(in.getBytes(StandardCharsets.UTF_8)), out);
    assertEquals(String.join("\n", "iter 50/500: loss 8.3871", "Waiting for the W1 lock",
            "[libprotobuf ERROR somewhere else] kept: not the cache's text-format complaint",
            "gpt2 train: data/x/train.bin: not found", ""),
        out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void flagsAreAddedUnlessTheUserSetThem() {
    Map<String, String> env = new java.util.HashMap<>(Map.of("XLA_FLAGS", "--xla_cpu_use_thunk_runtime=true"));
    TfLog.addFlag(env, "XLA_FLAGS", "--xla_cpu_use_thunk_runtime=false");
    TfLog.addFlag(env, "XLA_FLAGS", "--xla_dump_to=/tmp/d");
    TfLog.addFlag(env, "TF_XLA_FLAGS", "--tf_xla_cpu_global_jit");
    assertEquals("--xla_cpu_use_thunk_runtime=true --xla_dump_to=/tmp/d", env.get("XLA_FLAGS"));
    assertEquals("--tf_xla_cpu_global_jit", env.get("TF_XLA_FLAGS"));
  }

  @Test
  void xlaCacheGoesWhereTheEnvironmentSays(@TempDir Path tmp) throws IOException {
    assertEquals(tmp.resolve("mine").toAbsolutePath(),
        TfLog.xlaCacheDir(Map.of("GPT2_XLA_CACHE", tmp.resolve("mine").toString())));
    assertEquals(tmp.resolve("xdg/gpt2j/xla").toAbsolutePath(),
        TfLog.xlaCacheDir(Map.of("XDG_CACHE_HOME", tmp.resolve("xdg").toString())));
    Files.writeString(tmp.resolve("file"), "not a directory");
    assertNull(TfLog.xlaCacheDir(Map.of("GPT2_XLA_CACHE", tmp.resolve("file/xla").toString())),
        "no cache (and no failure) when the directory cannot be made");
  }
}
