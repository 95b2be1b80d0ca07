package dev.gpt2j.eval;

/** A task's data file is not in the task's format: one line naming the file, line and field. */
public final class EvalDataException extends IllegalArgumentException {
  public EvalDataException(String message) {
    super(message);
  }
}
