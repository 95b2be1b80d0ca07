package dev.gpt2j.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Ctrl-C and SIGTERM as a request to the command's own loop: the JVM's shutdown waits (up to {@code
 * grace}) until the command has stopped at a point of its choosing and closed what it holds ({@link
 * #close}). Native work is never torn down mid-step: TF's threads running while the JVM exits crash
 * it.
 */
final class StopOnSignal implements AutoCloseable {
  private final AtomicBoolean requested = new AtomicBoolean();
  private final CountDownLatch finished = new CountDownLatch(1);
  private final Thread hook;

  StopOnSignal(long graceMinutes) {
    hook =
        new Thread(
            () -> {
              requested.set(true);
              try {
                finished.await(graceMinutes, TimeUnit.MINUTES);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Whether a stop was asked for. */
  boolean requested() {
    return requested.get();
  }

  /** The command has stopped: the JVM may go (the hook is removed unless it is running). */
  @Override
  public void close() {
    finished.countDown();
    if (!requested.get()) {
      Runtime.getRuntime().removeShutdownHook(hook);
    }
  }
}
