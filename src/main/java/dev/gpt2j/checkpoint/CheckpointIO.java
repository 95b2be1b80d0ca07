package dev.gpt2j.checkpoint;

import dev.gpt2j.model.DType;
import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.util.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.train.Restore;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TString;

/**
 * Save and restore ops (TF's SaveV2 / RestoreV2) for a set of variables, built once with the graph.
 * Tensor names in the files are the variables' names, so OpenAI's checkpoints restore straight in
 * and what we save is what OpenAI's code reads.
 */
public final class CheckpointIO {
  private final List<Variable> variables;
  private final Placeholder<TString> restorePrefix;
  private final Op restoreOp;
  private final Placeholder<TString> savePrefix;
  private final Op saveOp;
  private final List<Operand<TFloat32>> saved = new ArrayList<>();

  @SuppressWarnings("unchecked") // RestoreV2 was asked for float32
  public CheckpointIO(Ops tf, List<Variable> variables) {
    this.variables = List.copyOf(variables);
    Ops restore = tf.withSubScope("restore");
    restorePrefix = restore.placeholder(TString.class);
    List<Variable> float32 = of(variables, true);
    List<Op> assigns = new ArrayList<>();
    Restore tensors = restore(restore, float32);
    for (int i = 0; i < float32.size(); i++) {
      assigns.add(restore.assignVariableOp(float32.get(i).handle(), tensors.tensors().get(i)));
    }
    // Variables of another dtype (bfloat16 weights) are read one at a time and cast, each after
    // the last is assigned: only one float32 tensor exists beside the weights
    Ops chained = restore;
    for (Variable v : of(variables, false)) {
      Operand<?> value = restore(chained, List.of(v)).tensors().get(0);
      Op assign =
          chained.assignVariableOp(
              v.handle(), chained.dtypes.cast((Operand<TFloat32>) value, v.value().type()));
      assigns.add(assign);
      chained = restore.withControlDependencies(List.of(assign));
    }
    restoreOp = restore.withControlDependencies(assigns).noOp();
    Ops save = tf.withSubScope("save");
    savePrefix = save.placeholder(TString.class);
    for (Variable v : variables) {
      saved.add(DType.float32(save, v.value())); // checkpoints are float32 whatever we hold
    }
    saveOp =
        save.train.save(
            savePrefix, names(save, variables), slices(save, variables), new ArrayList<>(saved));
  }

  private static List<Variable> of(List<Variable> variables, boolean float32) {
    return variables.stream().filter(v -> (v.value().type() == TFloat32.class) == float32).toList();
  }

  private Restore restore(Ops tf, List<Variable> vars) {
    return tf.train.restore(
        restorePrefix,
        names(tf, vars),
        slices(tf, vars),
        Collections.nCopies(vars.size(), TFloat32.class));
  }

  private static Operand<TString> names(Ops tf, List<Variable> vars) {
    return tf.constant(
        NdArrays.vectorOfObjects(vars.stream().map(Variable::name).toArray(String[]::new)));
  }

  private static Operand<TString> slices(Ops tf, List<Variable> vars) {
    String[] slices = new String[vars.size()];
    java.util.Arrays.fill(slices, "");
    return tf.constant(NdArrays.vectorOfObjects(slices));
  }

  /** Checks the checkpoint's index against the variables, then restores them all in one run. */
  public void restore(Session session, Path prefix) {
    List<Map.Entry<String, long[]>> expected = new ArrayList<>();
    for (Variable v : variables) {
      expected.add(new AbstractMap.SimpleEntry<>(v.name(), v.shape()));
    }
    CheckpointIndex.read(prefix).requireFloat32(expected);
    try (TString p = TString.scalarOf(prefix.toString())) {
      session.runner().feed(restorePrefix, p).addTarget(restoreOp).run().close();
    } catch (TensorFlowException e) {
      throw new CheckpointException(
          CheckpointIndex.dataFile(prefix)
              + ": cannot restore: "
              + CheckpointIndex.firstLine(e.getMessage()),
          e);
    }
  }

  /**
   * Writes {@code prefix.index} and {@code prefix.data-00000-of-00001}. When that fails (a full
   * disk), whatever SaveV2 got to write of them is removed: its {@code ...tempstate...} files, or a
   * data file without its index.
   */
  public void save(Session session, Path prefix) {
    try (TString p = TString.scalarOf(prefix.toString())) {
      session.runner().feed(savePrefix, p).addTarget(saveOp).run().close();
    } catch (TensorFlowException e) {
      removePartialFiles(prefix);
      throw new CheckpointException(
          prefix + ": cannot save: " + CheckpointIndex.firstLine(e.getMessage()), e);
    }
  }

  /**
   * Writes {@code values} (float32, by checkpoint name, of {@code shapes}) as a checkpoint at
   * {@code prefix} with TF's SaveV2, without variables: a model that comes from another file
   * format.
   */
  public static void write(Path prefix, Map<String, float[]> values, Map<String, long[]> shapes) {
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      List<String> names = new ArrayList<>(values.keySet());
      List<Placeholder<TFloat32>> inputs = new ArrayList<>();
      for (String name : names) {
        inputs.add(tf.placeholder(TFloat32.class));
      }
      String[] slices = new String[names.size()];
      java.util.Arrays.fill(slices, "");
      Op save =
          tf.train.save(
              tf.constant(prefix.toString()),
              tf.constant(NdArrays.vectorOfObjects(names.toArray(String[]::new))),
              tf.constant(NdArrays.vectorOfObjects(slices)),
              new ArrayList<>(inputs));
      List<TFloat32> tensors = new ArrayList<>();
      try {
        Session.Runner run = session.runner().addTarget(save);
        for (int i = 0; i < names.size(); i++) {
          float[] v = values.get(names.get(i));
          TFloat32 t =
              TFloat32.tensorOf(
                  org.tensorflow.ndarray.Shape.of(shapes.get(names.get(i))),
                  DataBuffers.of(v, true, false));
          tensors.add(t);
          run.feed(inputs.get(i), t);
        }
        run.run().close();
      } catch (TensorFlowException e) {
        removePartialFiles(prefix);
        throw new CheckpointException(
            prefix + ": cannot save: " + CheckpointIndex.firstLine(e.getMessage()), e);
      } finally {
        tensors.forEach(TFloat32::close);
      }
    }
  }

  /** What {@link #save} would write, without writing it: every tensor by name, as float32. */
  public Map<String, float[]> values(Session session) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int i = 0; i < variables.size(); i++) {
      try (TFloat32 value = (TFloat32) session.runner().fetch(saved.get(i)).run().get(0)) {
        float[] values = new float[(int) value.size()];
        value.copyTo(DataBuffers.of(values, false, false));
        out.put(variables.get(i).name(), values);
      }
    }
    return out;
  }

  // TF's BundleWriter writes PREFIX.data-...tempstateN, renames it, then does the same for the
  // index
  private static void removePartialFiles(Path prefix) {
    String name = prefix.getFileName().toString();
    try (Stream<Path> siblings = Files.list(prefix.toAbsolutePath().getParent())) {
      siblings
          .filter(f -> f.getFileName().toString().startsWith(name + "."))
          .forEach(AtomicFiles::deleteQuietly);
    } catch (IOException e) {
      // the directory is gone or unreadable: nothing of ours to remove
    }
  }
}
