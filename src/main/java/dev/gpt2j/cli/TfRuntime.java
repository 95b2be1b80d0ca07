package dev.gpt2j.cli;

import dev.gpt2j.util.LibC;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The settings TF reads from the environment, put into this process's own environment before TF's
 * library loads, and the JVM flags the CLI runs best with. The CLI stays one process: no child JVM
 * that could outlive the one the user started.
 */
final class TfRuntime {
  private static final String RELAUNCHED = "GPT2J_JVM_READY";
  // The work happens in TF's native code; the JVM should start fast and stay small: the C1
  // compiler leaves the two cores to TF, and the serial collector keeps the heap's footprint down
  // (docs/benchmarks.md, "one process per command": Start-up).
  private static final List<String> JVM_FLAGS =
      List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

  private static final List<String> HOT_JAVA_JVM_FLAGS = List.of("-XX:+UseSerialGC");

  /**
   * JavaCPP, under TF Java, checks the process's resident memory (a read of /proc/self/statm) at
   * every native allocation while a limit is set, its default, and TF Java allocates native
   * pointers for every op a graph builds: building 124M's decoding graphs spent seconds in that
   * check (docs/benchmarks.md, "Where sample's start went"). The memory plan guards the limits.
   */
  static final List<String> JAVACPP_FLAGS =
      List.of("-Dorg.bytedeco.javacpp.maxPhysicalBytes=0", "-Dorg.bytedeco.javacpp.maxBytes=0");

  private TfRuntime() {}

  /**
   * Puts {@link #environment}'s settings into this process's environment, then, once, replaces this
   * JVM by one with {@link #JVM_FLAGS} (exec: same PID, same standard streams, and the new
   * environment), or with C2 kept when the command runs {@code hotJavaLoops}. Call before TF loads;
   * if exec fails, this JVM carries on as it is.
   */
  static void configure(boolean verbose, boolean hotJavaLoops, String[] argv) {
    if (System.getenv(RELAUNCHED) != null) {
      return;
    }
    environment(System.getenv(), verbose).forEach(LibC::setenv);
    LibC.setenv(RELAUNCHED, "1");
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("/proc/self/exe"));
    cmd.addAll(hotJavaLoops ? HOT_JAVA_JVM_FLAGS : JVM_FLAGS);
    cmd.addAll(JAVACPP_FLAGS);
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(argv));
    System.out.flush();
    System.err.flush();
    LibC.execv(cmd);
  }

  /**
   * What TF should read when it loads, given the environment {@code env}: quiet logs (unless
   * verbose), XLA auto-clustering allowed on CPU, its persistent compile cache, and TF's pooling
   * (BFC) CPU allocator, which reuses buffers instead of touching fresh memory every step. A
   * setting the user made is kept.
   */
  static Map<String, String> environment(Map<String, String> env, boolean verbose) {
    Map<String, String> out = new LinkedHashMap<>();
    if (!verbose && !env.containsKey("TF_CPP_MIN_LOG_LEVEL")) {
      // errors too: each also comes back as the failed call's status, which the CLI reports in
      // one line (a lost cluster task otherwise logs three lines of gRPC detail first)
      out.put("TF_CPP_MIN_LOG_LEVEL", "3");
    }
    String tfXla = addFlag(env.get("TF_XLA_FLAGS"), "--tf_xla_cpu_global_jit");
    // XLA folds a cluster's constants on a CPU device of its own (/job:localhost), and refuses a
    // cluster placed on a cluster task's CPU as "Multiple CPU devices"; XLA's compiler folds them
    // anyway, at no measured cost (docs/benchmarks.md, "Several machines")
    tfXla = addFlag(tfXla, "--tf_xla_disable_constant_folding=true");
    // a repeated or resumed run loads its compiled step instead of compiling it again; TF checks
    // each entry's HLO fingerprint on load (README, "Training")
    Path cache = xlaCacheDir(env);
    if (cache != null) {
      tfXla = addFlag(tfXla, "--tf_xla_persistent_cache_directory=" + cache);
    }
    out.put("TF_XLA_FLAGS", tfXla);
    if (!env.containsKey("TF_CPU_ALLOCATOR_USE_BFC")) {
      out.put("TF_CPU_ALLOCATOR_USE_BFC", "true");
    }
    // XLA's older CPU runtime runs our training steps faster (docs/benchmarks.md, "Training")
    out.put("XLA_FLAGS", addFlag(env.get("XLA_FLAGS"), "--xla_cpu_use_thunk_runtime=false"));
    return out;
  }

  /**
   * {@code flags} with {@code flag} (--name or --name=value) appended unless it sets name already.
   */
  static String addFlag(String flags, String flag) {
    if (flags == null || flags.isBlank()) {
      return flag;
    }
    String name = flag.substring(2).split("=", 2)[0];
    return flags.contains(name) ? flags : flags + " " + flag;
  }

  /**
   * $GPT2_XLA_CACHE, else $XDG_CACHE_HOME/gpt2j/xla or ~/.cache/gpt2j/xla; null (no cache, and one
   * line saying why) when it cannot be created.
   */
  static Path xlaCacheDir(Map<String, String> env) {
    Path dir =
        env.containsKey("GPT2_XLA_CACHE")
            ? Path.of(env.get("GPT2_XLA_CACHE"))
            : env.containsKey("XDG_CACHE_HOME")
                ? Path.of(env.get("XDG_CACHE_HOME"), "gpt2j", "xla")
                : Path.of(System.getProperty("user.home"), ".cache", "gpt2j", "xla");
    try {
      return Files.createDirectories(dir).toAbsolutePath();
    } catch (IOException | RuntimeException e) {
      System.err.println("gpt2: XLA compile cache off: cannot create " + dir + " (" + e + ")");
      return null;
    }
  }
}
