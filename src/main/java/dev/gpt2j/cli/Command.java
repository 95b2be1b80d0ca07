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

  /** Runs with parsed arguments; returns the exit code. */
  int run(Args args, PrintStream out, PrintStream err) throws Exception;
}
