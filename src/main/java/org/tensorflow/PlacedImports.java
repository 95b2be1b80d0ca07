package org.tensorflow;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteImportGraphDefOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_GraphImportGraphDef;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_ImportGraphDefOptionsAddInputMapping;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_ImportGraphDefOptionsSetDefaultDevice;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_ImportGraphDefOptionsSetPrefix;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewImportGraphDefOptions;

import java.util.Map;
import org.tensorflow.internal.c_api.TF_Buffer;
import org.tensorflow.internal.c_api.TF_ImportGraphDefOptions;
import org.tensorflow.internal.c_api.TF_Output;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.proto.GraphDef;

/**
 * Stands in for TF Java's {@code Graph.importGraphDef(GraphDef, String prefix)}, which passes only
 * a prefix to the C API: imports a GraphDef with every op placed on one device and some of its
 * tensors replaced by tensors of the destination graph (the C API's import options). It is how a
 * replica's forward and backward pass, gradient ops included, lands on a cluster task: ops added
 * through the C API's gradient registry carry no device, so building them under {@code
 * Ops.withDevice} would leave them on the chief. This class lives in TF Java's package only for the
 * package-private {@code Graph.ref()}; TfJavaInternalsTest fails, naming it, when a TF Java release
 * drops it.
 */
public final class PlacedImports {
  private PlacedImports() {}

  /**
   * Imports {@code def} into {@code graph} with names prefixed {@code prefix/}, every op on {@code
   * device}, and each output named in {@code inputs} ("op" meaning output 0 of op) replaced by the
   * given output of {@code graph}.
   */
  public static void into(
      Graph graph, GraphDef def, String prefix, String device, Map<String, Output<?>> inputs) {
    TF_ImportGraphDefOptions options = TF_NewImportGraphDefOptions();
    try (Graph.Reference ref = graph.ref();
        TF_Status status = TF_Status.newStatus();
        TF_Buffer serialized = TF_Buffer.newBufferFromString(def)) {
      TF_ImportGraphDefOptionsSetPrefix(options, prefix);
      TF_ImportGraphDefOptionsSetDefaultDevice(options, device);
      for (Map.Entry<String, Output<?>> e : inputs.entrySet()) {
        Output<?> to = e.getValue();
        TF_Output dst =
            new TF_Output()
                .oper(((GraphOperation) to.op()).getUnsafeNativeHandle())
                .index(to.index());
        TF_ImportGraphDefOptionsAddInputMapping(options, e.getKey(), 0, dst);
      }
      TF_GraphImportGraphDef(ref.nativeHandle(), serialized, options, status);
      status.throwExceptionIfNotOK();
    } finally {
      TF_DeleteImportGraphDefOptions(options);
    }
  }
}
