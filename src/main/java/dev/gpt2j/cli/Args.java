package dev.gpt2j.cli;

import java.nio.file.Path;
import org.apache.commons.cli.CommandLine;

/** Typed access to parsed options; every bad value becomes a one-line UsageException. */
final class Args {
  private final CommandLine line;

  Args(CommandLine line) {
    this.line = line;
  }

  boolean has(String opt) {
    return line.hasOption(opt);
  }

  String string(String opt, String fallback) {
    return line.getOptionValue(opt, fallback);
  }

  String required(String opt) {
    String v = line.getOptionValue(opt);
    if (v == null) {
      throw new UsageException("--" + opt + " is required");
    }
    return v;
  }

  Path path(String opt, String fallback) {
    String v = string(opt, fallback);
    return v == null ? null : Path.of(v);
  }

  int integer(String opt, int fallback) {
    long v = longValue(opt, fallback);
    if (v != (int) v) {
      throw new UsageException("--" + opt + " expects an integer, got '" + v + "'");
    }
    return (int) v;
  }

  long longValue(String opt, long fallback) {
    String v = line.getOptionValue(opt);
    if (v == null) {
      return fallback;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("--" + opt + " expects an integer, got '" + v + "'");
    }
  }

  double decimal(String opt, double fallback) {
    String v = line.getOptionValue(opt);
    if (v == null) {
      return fallback;
    }
    try {
      double d = Double.parseDouble(v.trim());
      if (!Double.isFinite(d)) {
        throw new NumberFormatException();
      }
      return d;
    } catch (NumberFormatException e) {
      throw new UsageException("--" + opt + " expects a number, got '" + v + "'");
    }
  }

  String[] rest() {
    return line.getArgs();
  }
}
