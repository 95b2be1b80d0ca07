package dev.gpt2j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs the CLI in a child JVM with the environment TF needs. TF reads TF_CPP_MIN_LOG_LEVEL,
 * TF_XLA_FLAGS, XLA_FLAGS and its allocator settings once, when its library loads, and absl prints a few
 * lines regardless; a Java process cannot set its own environment, so the CLI runs itself once
 * more as a child with them set, and (unless --verbose) drops absl's INFO/WARNING lines (and
 * protobuf's, see NOISE_PREFIXES) from the child's stderr. Everything else (stdin, stdout, our
 * messages, progress bars) passes through.
 */
final class TfLog {
  private static final String CHILD_MARKER = "GPT2_QUIET_CHILD";
  // Lines printed whatever the log level: absl's banner, and protobuf's complaint each time TF
  // reads a cached XLA executable (it tries the text format before the binary one, which works)
  private static final List<byte[]> NOISE_PREFIXES = Stream.of(
          "WARNING: All log messages before absl::InitializeLog()",
          "[libprotobuf ERROR external/com_google_protobuf/src/google/protobuf/text_format.cc:")
      .map(p -> p.getBytes(StandardCharsets.US_ASCII)).toList();
  private static final Pattern ABSL_LINE = Pattern.compile("^[IW]\\d{4} .*");

  private TfLog() {}

  /** True in the child process, which does the work. */
  static boolean runHere() {
    return System.getenv(CHILD_MARKER) != null;
  }

  /**
   * Runs this command line in a child JVM whose environment TF reads at load time: quiet logs
   * (unless --verbose), XLA auto-clustering allowed on CPU, and TF's pooling (BFC) CPU allocator,
   * which reuses buffers instead of touching fresh memory every step. Returns its exit code.
   */
  static int runInChild(String[] argv) throws IOException, InterruptedException {
    boolean verbose = Arrays.asList(argv).contains("--verbose");
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    // The work happens in TF's native code; the JVM only needs to start fast. The C1 compiler
    // and the serial collector cut model loading from about 2.3 s to 1.7 s here.
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-XX:+UseSerialGC");
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(Arrays.asList(argv));
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectInput(ProcessBuilder.Redirect.INHERIT)
        .redirectOutput(ProcessBuilder.Redirect.INHERIT);
    Map<String, String> env = pb.environment();
    env.put(CHILD_MARKER, "1");
    if (!verbose) {
      env.putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
    }
    addFlag(env, "TF_XLA_FLAGS", "--tf_xla_cpu_global_jit");
    // XLA's compiled training steps persist between runs (the baby config's first step: 6.8 s
    // with an empty cache, 1.9 s with it filled); TF checks each entry's HLO fingerprint on load
    Path xlaCache = xlaCacheDir(env);
    if (xlaCache != null) {
      addFlag(env, "TF_XLA_FLAGS", "--tf_xla_persistent_cache_directory=" + xlaCache);
    }
    env.putIfAbsent("TF_CPU_ALLOCATOR_USE_BFC", "true");
    // XLA's older CPU runtime runs our training steps 8-14% faster than the thunk runtime TF 2.18
    // defaults to (docs/benchmarks.md)
    addFlag(env, "XLA_FLAGS", "--xla_cpu_use_thunk_runtime=false");
    if (verbose) {
      pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    }
    Process child = pb.start();
    // A SIGTERM to us reaches the child too, so it can save its work before exiting.
    Thread stopChild = new Thread(() -> {
      child.destroy();
      try {
        child.waitFor();
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    });
    Runtime.getRuntime().addShutdownHook(stopChild);
    if (!verbose) {
      filter(child.getErrorStream(), System.err);
    }
    int code = child.waitFor();
    Runtime.getRuntime().removeShutdownHook(stopChild);
    return code;
  }

  /** Appends {@code flag} (--name or --name=value) to {@code variable} unless it already sets name. */
  static void addFlag(Map<String, String> env, String variable, String flag) {
    String name = flag.substring(2).split("=", 2)[0];
    env.merge(variable, flag, (old, add) -> old.contains(name) ? old : old + " " + add);
  }

  /**
   * $GPT2_XLA_CACHE, else $XDG_CACHE_HOME/gpt2j/xla or ~/.cache/gpt2j/xla; null (no cache, and
   * one line saying why) when it cannot be created.
   */
  static Path xlaCacheDir(Map<String, String> env) {
    String home = System.getProperty("user.home");
    Path dir = env.containsKey("GPT2_XLA_CACHE") ? Path.of(env.get("GPT2_XLA_CACHE"))
        : env.containsKey("XDG_CACHE_HOME") ? Path.of(env.get("XDG_CACHE_HOME"), "gpt2j", "xla")
        : Path.of(home, ".cache", "gpt2j", "xla");
    try {
      return Files.createDirectories(dir).toAbsolutePath();
    } catch (IOException | RuntimeException e) {
      System.err.println("gpt2: XLA compile cache off: cannot create " + dir + " (" + e + ")");
      return null;
    }
  }

  /** Copies {@code in} to {@code out} line by line, minus absl's INFO/WARNING lines. */
  static void filter(InputStream in, OutputStream out) throws IOException {
    byte[] line = new byte[8192];
    int len = 0;
    boolean passing = false;  // the current line is known to be ours: copy straight through
    boolean dropping = false;
    int b;
    while ((b = in.read()) != -1) {
      boolean end = b == '\n' || b == '\r';
      if (passing) {
        out.write(b);
      } else if (!dropping) {
        line[len++] = (byte) b;
        Boolean noise = classify(line, len);
        if (noise == Boolean.FALSE || len == line.length) {
          out.write(line, 0, len);
          passing = true;
        } else if (noise == Boolean.TRUE) {
          dropping = true;
        }
      }
      if (end) {
        if (!passing && !dropping && len > 0) {
          out.write(line, 0, len);
        }
        len = 0;
        passing = false;
        dropping = false;
        if (in.available() == 0) {
          out.flush();
        }
      } else if (passing && in.available() == 0) {
        out.flush();
      }
    }
    out.flush();
  }

  /** TRUE: a log line to drop; FALSE: not one; null: too early to say. */
  private static Boolean classify(byte[] line, int len) {
    for (byte[] prefix : NOISE_PREFIXES) {
      if (Arrays.equals(line, 0, Math.min(len, prefix.length), prefix, 0, Math.min(len, prefix.length))) {
        return len >= prefix.length ? Boolean.TRUE : null;
      }
    }
    if (len < 6) {
      return (line[0] == 'I' || line[0] == 'W') && allDigits(line, 1, len) ? null : Boolean.FALSE;
    }
    return ABSL_LINE.matcher(new String(line, 0, 6, StandardCharsets.US_ASCII)).matches();
  }

  private static boolean allDigits(byte[] line, int from, int to) {
    for (int i = from; i < to; i++) {
      if (line[i] < '0' || line[i] > '9') {
        return false;
      }
    }
    return true;
  }
}
