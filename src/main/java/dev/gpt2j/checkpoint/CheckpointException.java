package dev.gpt2j.checkpoint;

/** A checkpoint that cannot be read or written; the message names the file and the tensor. */
public class CheckpointException extends RuntimeException {
  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
