package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the CLI in-process and captures what it prints. */
public final class CliRunner {
  public record Outcome(int code, String out, String err) {}

  private CliRunner() {}

  /** As {@link #run(String...)}, with {@code stdin} as standard input. */
  public static Outcome runWithInput(String stdin, String... argv) {
    java.io.InputStream saved = System.in;
    System.setIn(new java.io.ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
    try {
      return run(argv);
    } finally {
      System.setIn(saved);
    }
  }

  /**
   * Runs {@code argv} and checks the refusal: exit 2, nothing on standard output, and exactly
   * {@code gpt2 COMMAND: message} on standard error.
   */
  public static void assertRefused(String message, String... argv) {
    Outcome o = run(argv);
    assertEquals(2, o.code(), o.err());
    assertEquals("gpt2 " + argv[0] + ": " + message + "\n", o.err());
    assertEquals("", o.out());
  }

  /**
   * Runs {@code argv} and checks it was refused as bad input: exit 2 and exactly one line on
   * standard error, {@code gpt2 COMMAND: message}, naming no Java exception; returns the message.
   */
  public static String refusal(String... argv) {
    Outcome o = run(argv);
    assertEquals(2, o.code(), o.err());
    assertEquals(1, o.err().lines().count(), o.err());
    assertTrue(o.err().startsWith("gpt2 " + argv[0] + ": "), o.err());
    assertFalse(o.err().contains("Exception"), o.err());
    return o.err().strip().substring(("gpt2 " + argv[0] + ": ").length());
  }

  /** {@code eval} of the perplexity of {@code text} under {@code model}, and {@code more}. */
  public static String[] evalText(Path model, Path text, String... more) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "eval",
                "--model-dir",
                model.toString(),
                "--task",
                "text",
                "--data",
                text.toString()));
    argv.addAll(List.of(more));
    return argv.toArray(String[]::new);
  }

  /** {@code command} followed by {@code args}. */
  public static String[] argv(String command, String... args) {
    String[] all = new String[args.length + 1];
    all[0] = command;
    System.arraycopy(args, 0, all, 1, args.length);
    return all;
  }

  public static Outcome run(String... argv) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Main.run(
            argv,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Outcome(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
