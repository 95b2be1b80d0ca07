package dev.gpt2j.testing;

import java.util.ArrayList;
import java.util.List;

/** The command line that runs the CLI in a process of its own, on the tests' class path. */
public final class CliProcess {
  private CliProcess() {}

  public static List<String> command(List<String> argv) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "-cp",
                System.getProperty("java.class.path"),
                "dev.gpt2j.cli.Main"));
    cmd.addAll(argv);
    return cmd;
  }
}
