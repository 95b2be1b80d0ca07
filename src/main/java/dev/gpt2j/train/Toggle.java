package dev.gpt2j.train;

/** A config choice that is on, off, or left to the run to decide from the memory plan. */
public enum Toggle {
  AUTO,
  TRUE,
  FALSE;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Whether it is on: {@code whenAuto} for auto. */
  public boolean settled(boolean whenAuto) {
    return this == AUTO ? whenAuto : this == TRUE;
  }
}
