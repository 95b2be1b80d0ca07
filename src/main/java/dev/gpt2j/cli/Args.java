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

  /** The option's value; given more than once, the last one (a later --key=value overrides). */
  String string(String opt, String fallback) {
    String[] all = line.getOptionValues(opt);
    return all == null || all.length == 0 ? fallback : all[all.length - 1];
  }

  String required(String opt) {
    String v = string(opt, null);
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

  /** An integer of at least 1. */
  int positive(String opt, int fallback) {
    int v = integer(opt, fallback);
    if (v < 1) {
      throw new UsageException("--" + opt + " must be at least 1, got " + v);
    }
    return v;
  }

  long longValue(String opt, long fallback) {
    String v = string(opt, null);
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
    String v = string(opt, null);
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

  /** A positive whole number of seconds. */
  java.time.Duration seconds(String opt, java.time.Duration fallback) {
    long s = longValue(opt, fallback.toSeconds());
    if (s <= 0) {
      throw new UsageException("--" + opt + " expects a positive number of seconds, got " + s);
    }
    return java.time.Duration.ofSeconds(s);
  }

  String[] rest() {
    return line.getArgs();
  }
}
