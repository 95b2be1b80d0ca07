package dev.gpt2j.cli;

/** Bad command-line input; the message names the option and what was expected. Exit code 2. */
public class UsageException extends RuntimeException {
  public UsageException(String message) {
    super(message);
  }
}
