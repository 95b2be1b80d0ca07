package dev.gpt2j.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * The memory a command may use: the cgroup's limit when there is one (a container's), else the
 * kernel's MemAvailable estimate.
 */
public final class AvailableMemory {
  private AvailableMemory() {}

  /** The limit and where it came from, e.g. "MemAvailable". */
  public record Limit(long bytes, String source) {}

  /** Empty when neither the cgroup files nor /proc/meminfo can be read. */
  public static java.util.Optional<Limit> read() {
    OptionalLong v2 = number(Path.of("/sys/fs/cgroup/memory.max"));
    if (v2.isPresent()) {
      return java.util.Optional.of(new Limit(v2.getAsLong(), "the cgroup's memory.max"));
    }
    OptionalLong v1 = number(Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    // cgroup v1 writes a huge number (about 2^63) when there is no limit
    if (v1.isPresent() && v1.getAsLong() < (1L << 60)) {
      return java.util.Optional.of(new Limit(v1.getAsLong(), "the cgroup's memory limit"));
    }
    return memAvailable().map(b -> new Limit(b, "MemAvailable"));
  }

  private static java.util.Optional<Long> memAvailable() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemAvailable:")) {
          return java.util.Optional.of(
              Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024); // the file says kB
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux, or an unreadable /proc: no limit known
    }
    return java.util.Optional.empty();
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
