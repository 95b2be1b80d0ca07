package dev.gpt2j.kernels;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/** The processor's feature flags as Linux lists them ({@code avx2}, {@code amx_bf16}, ...). */
public final class CpuFlags {
  private CpuFlags() {}

  private static final Path CPUINFO = Path.of("/proc/cpuinfo");

  /** This machine's flags: the first processor's "flags" line; empty where it cannot be read. */
  public static Set<String> ofThisMachine() {
    try {
      return parse(Files.readString(CPUINFO, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return Set.of();
    }
  }

  /** The flags on the first "flags" line of {@code cpuinfo}, the text of /proc/cpuinfo. */
  static Set<String> parse(String cpuinfo) {
    return cpuinfo
        .lines()
        .filter(l -> l.startsWith("flags"))
        .findFirst()
        .map(l -> Arrays.stream(l.substring(l.indexOf(':') + 1).trim().split("\\s+")))
        .map(s -> s.collect(Collectors.toUnmodifiableSet()))
        .orElse(Set.of());
  }
}
