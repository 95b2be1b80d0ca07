package org.tensorflow.op;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.types.TFloat32;

/**
 * Every operation built through {@link UnclusteredOps}, in its sub-scopes and under control
 * dependencies too, carries {@code _XlaCompile = false} (what XLA's auto-clustering reads); the
 * scope it came from is left as it was.
 */
class UnclusteredOpsTest {
  @Test
  void everyOperationBuiltThroughItSaysNotToCompile() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.constant(new float[] {1, 2, 3});
      Ops no = UnclusteredOps.of(tf);
      Operand<TFloat32> y = no.math.mul(x, x);
      Operand<TFloat32> z =
          no.withSubScope("block")
              .withControlDependencies(List.of(y))
              .math
              .add(y, no.withName("two").constant(2f));
      for (Operand<?> op : List.of(y, z, no.withSubScope("a").withSubScope("b").identity(z))) {
        assertFalse(attr(op), op.op().name());
      }
      // the plain scope's operations carry no such attribute
      assertThrows(TensorFlowException.class, () -> attr(tf.math.mul(x, x)));
    }
  }

  private static boolean attr(Operand<?> op) {
    return ((GraphOperation) op.op()).attributes().getAttrBool(UnclusteredOps.XLA_COMPILE);
  }
}
