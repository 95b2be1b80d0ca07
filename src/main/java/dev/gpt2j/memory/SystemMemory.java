package dev.gpt2j.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/** What the kernel reports about memory: the limit a command may use, and this process's peak. */
public final class SystemMemory {
  private SystemMemory() {}

  /** A limit and where it came from, e.g. "MemAvailable". */
  public record Limit(long bytes, String source) {}

  /**
   * The cgroup's limit when there is one (a container's), else the kernel's MemAvailable estimate;
   * empty when neither can be read.
   */
  public static Optional<Limit> available() {
    OptionalLong v2 = number(Path.of("/sys/fs/cgroup/memory.max"));
    if (v2.isPresent()) {
      return Optional.of(new Limit(v2.getAsLong(), "the cgroup's memory.max"));
    }
    OptionalLong v1 = number(Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    // cgroup v1 writes a huge number (about 2^63) when there is no limit
    if (v1.isPresent() && v1.getAsLong() < (1L << 60)) {
      return Optional.of(new Limit(v1.getAsLong(), "the cgroup's memory limit"));
    }
    OptionalLong free = kilobytes(Path.of("/proc/meminfo"), "MemAvailable:");
    return free.isPresent()
        ? Optional.of(new Limit(free.getAsLong(), "MemAvailable"))
        : Optional.empty();
  }

  /** This process's peak resident memory so far (VmHWM); empty where the kernel does not say. */
  public static OptionalLong peakResident() {
    return kilobytes(Path.of("/proc/self/status"), "VmHWM:");
  }

  // the bytes of a "Key:   N kB" line of a /proc file
  private static OptionalLong kilobytes(Path file, String key) {
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.startsWith(key)) {
          return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux, or an unreadable /proc: unknown
    }
    return OptionalLong.empty();
  }

  // a file holding one number; "max" (no limit) and unreadable files are empty
  private static OptionalLong number(Path file) {
    try {
      List<String> lines = Files.readAllLines(file);
      return lines.isEmpty()
          ? OptionalLong.empty()
          : OptionalLong.of(Long.parseLong(lines.get(0).trim()));
    } catch (IOException | NumberFormatException e) {
      return OptionalLong.empty();
    }
  }
}
