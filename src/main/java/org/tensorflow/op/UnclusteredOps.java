package org.tensorflow.op;

import org.tensorflow.DeviceSpec;
import org.tensorflow.ExecutionEnvironment;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;

/**
 * Ops whose every operation carries {@code _XlaCompile = false}, which XLA's auto-clustering
 * honours by leaving the operation to TF's own kernels (mark_for_compilation_pass rejects such a
 * node). For a graph in an auto-clustered session that runs now and then at ever new shapes (a
 * training run's eval_task): auto-clustering compiles a cluster anew for each shape it sees twice,
 * which costs far more than the run (docs/benchmarks.md, "The eval_task's compiles, and the plan
 * with an eval_task"). This class lives in TF Java's package only for the package-private {@code
 * Ops(Scope)}: a TF Java release that drops it fails the build here.
 */
public final class UnclusteredOps {
  private UnclusteredOps() {}

  static final String XLA_COMPILE = "_XlaCompile";

  /** {@code tf}'s scope, every operation built in it marked not to be compiled by XLA. */
  public static Ops of(Ops tf) {
    return new Ops(new Unclustered(tf.scope()));
  }

  private record Unclustered(Scope scope) implements Scope {
    @Override
    public ExecutionEnvironment env() {
      return scope.env();
    }

    @Override
    public Scope withSubScope(String childScopeName) {
      return new Unclustered(scope.withSubScope(childScopeName));
    }

    @Override
    public Scope withName(String opName) {
      return new Unclustered(scope.withName(opName));
    }

    @Override
    public Scope withNameAsSubScope(String defaultName) {
      return new Unclustered(scope.withNameAsSubScope(defaultName));
    }

    @Override
    public Scope withDevice(DeviceSpec newDevice) {
      return new Unclustered(scope.withDevice(newDevice));
    }

    @Override
    public Scope withInitScope() {
      return new Unclustered(scope.withInitScope());
    }

    @Override
    public String makeOpName(String defaultName) {
      return scope.makeOpName(defaultName);
    }

    @Override
    public String makeUnique(String id) {
      return scope.makeUnique(id);
    }

    @Override
    public void refreshNames() {
      scope.refreshNames();
    }

    @Override
    public Scope withControlDependencyOps(Iterable<Operation> controls) {
      return new Unclustered(scope.withControlDependencyOps(controls));
    }

    @Override
    public OperationBuilder apply(OperationBuilder builder) {
      return scope.apply(builder).setAttr(XLA_COMPILE, false);
    }

    @Override
    public String getDeviceString() {
      return scope.getDeviceString();
    }

    @Override
    public boolean isInit() {
      return scope.isInit();
    }
  }
}
