package dev.gpt2j.cli;

import java.io.PrintStream;
import org.apache.commons.cli.Options;

/** One CLI command: its options, and what it does with them. */
interface Command {
  String name();

  String summary();

  Options options();

  /** Extra help text after the options (defaults, formats). */
  default String helpFooter() {
    return "";
  }

  /** Whether it runs TF: the commands that only move files start without TF's set-up. */
  default boolean usesTensorFlow() {
    return true;
  }

  /**
   * Whether Java code sits in its hot loop (serve draws every row's token in Java at every step):
   * it then keeps the JVM's optimising compiler, which the others leave out to start faster.
   */
  default boolean hotJavaLoops() {
    return false;
  }

  /** Runs with parsed arguments; returns the exit code. */
  int run(Args args, PrintStream out, PrintStream err) throws Exception;
}
