package org.tensorflow;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;
import org.tensorflow.internal.c_api.TF_Session;

/**
 * {@link PlacedImports} and {@link RemoteSessions} live in TF Java's package to reach members it
 * keeps package-private. A TF Java release that renames or drops one breaks them at run time, on a
 * cluster only: this says so, in one line, as soon as the dependency changes.
 */
class TfJavaInternalsTest {
  @Test
  void thePackagePrivateMembersOurClassesReachStillExist() {
    require(() -> Graph.class.getDeclaredMethod("ref"), "Graph.ref()");
    require(
        () -> Session.class.getDeclaredConstructor(Graph.class, TF_Session.class),
        "the constructor Session(Graph, TF_Session)");
    require(
        () -> Graph.Reference.class.getDeclaredMethod("nativeHandle"),
        "Graph.Reference.nativeHandle()");
  }

  private interface Lookup {
    Object find() throws ReflectiveOperationException;
  }

  private static void require(Lookup lookup, String member) {
    try {
      lookup.find();
    } catch (ReflectiveOperationException e) {
      fail(
          "TF Java (TensorFlow "
              + TensorFlow.version()
              + ") no longer has "
              + member
              + ", which org.tensorflow.PlacedImports and RemoteSessions reach (written for TF Java"
              + " 1.1.0): port them to this release (README, \"TF Java's internals\")");
    }
  }
}
