package dev.gpt2j.testing;

import java.util.ArrayList;
import java.util.List;

/** The command line that runs the CLI in a process of its own, on the tests' class path. */
public final class CliProcess {
  private CliProcess() {}

  public static List<String> command(List<String> argv) {
    return java("dev.gpt2j.cli.Main", argv);
  }

  /** A JVM running {@code mainClass} with {@code argv}, on the tests' class path. */
  public static List<String> java(String mainClass, List<String> argv) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "-cp",
                System.getProperty("java.class.path"),
                mainClass));
    cmd.addAll(argv);
    return cmd;
  }
}
