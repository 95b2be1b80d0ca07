package org.tensorflow;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetConfig;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetTarget;

import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.proto.ConfigProto;

/**
 * Stands in for TF Java's {@code new Session(Graph, ConfigProto)}, which gives a session no target:
 * sessions whose master is a TF server ({@code grpc://host:port}), so that a graph's ops run on the
 * cluster's tasks. TF Java 1.1.0 has no public way to give a session a target. This class lives in
 * TF Java's package only to reach the package-private {@code Session(Graph, TF_Session)}
 * constructor and {@code Graph.ref()}; it calls nothing else that is not public C API ({@code
 * TF_SetTarget}); TfJavaInternalsTest fails, naming what is missing, when a TF Java release drops
 * either.
 */
public final class RemoteSessions {
  private RemoteSessions() {}

  /** A session on {@code graph} whose master is the server at {@code target}. */
  public static Session open(Graph graph, String target, ConfigProto config) {
    TF_SessionOptions options = TF_NewSessionOptions();
    try (Graph.Reference ref = graph.ref();
        TF_Status status = TF_Status.newStatus();
        BytePointer serialized = new BytePointer(config.toByteArray())) {
      TF_SetTarget(options, target);
      TF_SetConfig(options, serialized, serialized.capacity(), status);
      status.throwExceptionIfNotOK();
      TF_Session session = TF_NewSession(ref.nativeHandle(), options, status);
      status.throwExceptionIfNotOK();
      return new Session(graph, session);
    } finally {
      TF_DeleteSessionOptions(options);
    }
  }
}
