package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TfRuntimeTest {
  @Test
  void flagsAreAddedUnlessTheUserSetThem() {
    assertEquals(
        "--xla_cpu_use_thunk_runtime=true --xla_dump_to=/tmp/d",
        TfRuntime.addFlag(
            TfRuntime.addFlag(
                "--xla_cpu_use_thunk_runtime=true", "--xla_cpu_use_thunk_runtime=false"),
            "--xla_dump_to=/tmp/d"));
    assertEquals("--tf_xla_cpu_global_jit", TfRuntime.addFlag(null, "--tf_xla_cpu_global_jit"));
  }

  @Test
  void theUsersSettingsAreKeptAndVerboseLeavesTheLogLevelAlone(@TempDir Path tmp) {
    Map<String, String> user =
        Map.of(
            "GPT2_XLA_CACHE", tmp.resolve("cache").toString(),
            "TF_CPU_ALLOCATOR_USE_BFC", "false",
            "XLA_FLAGS", "--xla_cpu_use_thunk_runtime=true");
    Map<String, String> set = TfRuntime.environment(user, false);
    assertEquals("3", set.get("TF_CPP_MIN_LOG_LEVEL"));
    assertEquals(
        "--tf_xla_cpu_global_jit --tf_xla_disable_constant_folding=true"
            + " --tf_xla_persistent_cache_directory="
            + tmp.resolve("cache").toAbsolutePath(),
        set.get("TF_XLA_FLAGS"));
    assertFalse(set.containsKey("TF_CPU_ALLOCATOR_USE_BFC"), "the user's allocator choice stays");
    assertEquals("--xla_cpu_use_thunk_runtime=true", set.get("XLA_FLAGS"));
    assertFalse(TfRuntime.environment(user, true).containsKey("TF_CPP_MIN_LOG_LEVEL"));
  }

  @Test
  void xlaCacheGoesWhereTheEnvironmentSays(@TempDir Path tmp) throws IOException {
    assertEquals(
        tmp.resolve("mine").toAbsolutePath(),
        TfRuntime.xlaCacheDir(Map.of("GPT2_XLA_CACHE", tmp.resolve("mine").toString())));
    assertEquals(
        tmp.resolve("xdg/gpt2j/xla").toAbsolutePath(),
        TfRuntime.xlaCacheDir(Map.of("XDG_CACHE_HOME", tmp.resolve("xdg").toString())));
    Files.writeString(tmp.resolve("file"), "not a directory");
    assertNull(
        TfRuntime.xlaCacheDir(Map.of("GPT2_XLA_CACHE", tmp.resolve("file/xla").toString())),
        "no cache (and no failure) when the directory cannot be made");
  }
}
