package dev.gpt2j.checkpoint;

import dev.gpt2j.model.ModelVariables.Variable;
import dev.gpt2j.util.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.NdArrays;
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

  public CheckpointIO(Ops tf, List<Variable> variables) {
    this.variables = List.copyOf(variables);
    String[] names = variables.stream().map(Variable::name).toArray(String[]::new);
    String[] slices = new String[names.length];
    java.util.Arrays.fill(slices, "");
    Ops restore = tf.withSubScope("restore");
    restorePrefix = restore.placeholder(TString.class);
    Restore tensors =
        restore.train.restore(
            restorePrefix,
            restore.constant(NdArrays.vectorOfObjects(names)),
            restore.constant(NdArrays.vectorOfObjects(slices)),
            Collections.nCopies(names.length, TFloat32.class));
    List<Op> assigns = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      assigns.add(restore.assignVariableOp(variables.get(i).handle(), tensors.tensors().get(i)));
    }
    restoreOp = restore.withControlDependencies(assigns).noOp();
    Ops save = tf.withSubScope("save");
    savePrefix = save.placeholder(TString.class);
    List<Operand<?>> values = new ArrayList<>();
    for (Variable v : variables) {
      values.add(v.value());
    }
    saveOp =
        save.train.save(
            savePrefix,
            save.constant(NdArrays.vectorOfObjects(names)),
            save.constant(NdArrays.vectorOfObjects(slices)),
            values);
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
