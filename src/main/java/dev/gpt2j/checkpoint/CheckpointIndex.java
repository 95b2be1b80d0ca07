package dev.gpt2j.checkpoint;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_CheckpointReaderGetVariable;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_CheckpointReaderGetVariableDataType;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_CheckpointReaderGetVariableNumDims;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_CheckpointReaderGetVariableShape;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_CheckpointReaderSize;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteCheckpointReader;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_GetCode;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_Message;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewCheckpointReader;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewStatus;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.TensorFlow;
import org.tensorflow.internal.c_api.TF_CheckpointReader;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.proto.DataType;

/**
 * What a TF checkpoint holds (names, dtypes, shapes), read from its {@code .index} file with TF's
 * own checkpoint reader, so that a bad checkpoint is reported before any tensor is restored.
 */
public final class CheckpointIndex {

  public record Entry(String name, DataType dtype, long[] shape) {
    long bytes() {
      long n = 4; // every tensor we read or write is float32
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  private final Path prefix;
  private final Map<String, Entry> entries;

  private CheckpointIndex(Path prefix, Map<String, Entry> entries) {
    this.prefix = prefix;
    this.entries = entries;
  }

  /** Reads the index of the checkpoint {@code prefix} (the path without .index / .data-*). */
  public static CheckpointIndex read(Path prefix) {
    Path index = indexFile(prefix);
    if (!Files.isRegularFile(index)) {
      throw new CheckpointException(index + ": checkpoint index file not found");
    }
    Path data = dataFile(prefix);
    if (!Files.isRegularFile(data)) {
      throw new CheckpointException(data + ": checkpoint data file not found");
    }
    TensorFlow.version(); // loads the native library
    TF_Status status = TF_NewStatus();
    TF_CheckpointReader reader = TF_NewCheckpointReader(prefix.toString(), status);
    try {
      if (TF_GetCode(status) != 0) {
        throw new CheckpointException(
            index + ": not a readable TF checkpoint: " + firstLine(TF_Message(status).getString()));
      }
      Map<String, Entry> entries = new TreeMap<>();
      int n = TF_CheckpointReaderSize(reader);
      for (int i = 0; i < n; i++) {
        String name = TF_CheckpointReaderGetVariable(reader, i).getString();
        int rank = TF_CheckpointReaderGetVariableNumDims(reader, name);
        long[] shape = new long[rank];
        TF_CheckpointReaderGetVariableShape(reader, name, shape, rank, status);
        DataType dtype = DataType.forNumber(TF_CheckpointReaderGetVariableDataType(reader, name));
        entries.put(name, new Entry(name, dtype, shape));
      }
      return new CheckpointIndex(prefix, entries);
    } finally {
      if (reader != null && !reader.isNull()) {
        TF_DeleteCheckpointReader(reader);
      }
      TF_DeleteStatus(status);
    }
  }

  public Map<String, Entry> entries() {
    return entries;
  }

  /**
   * Checks that the checkpoint holds exactly the expected tensors (no more: a checkpoint with
   * tensors left over, such as layers an hparams.json does not count, is the wrong model), each
   * float32 of the expected shape, and that the data file is long enough to hold them all.
   */
  public void requireFloat32(Collection<Map.Entry<String, long[]>> expected) {
    requireNoOthers(
        expected.stream().map(Map.Entry::getKey).collect(java.util.stream.Collectors.toSet()));
    for (Map.Entry<String, long[]> want : expected) {
      Entry got = entries.get(want.getKey());
      if (got == null) {
        throw new CheckpointException(
            indexFile(prefix)
                + ": tensor '"
                + want.getKey()
                + "' is missing (the checkpoint has "
                + entries.size()
                + " tensors)");
      }
      if (got.dtype() != DataType.DT_FLOAT) {
        throw new CheckpointException(
            indexFile(prefix)
                + ": tensor '"
                + want.getKey()
                + "' has dtype "
                + got.dtype()
                + ", expected DT_FLOAT");
      }
      if (!Arrays.equals(got.shape(), want.getValue())) {
        throw new CheckpointException(
            indexFile(prefix)
                + ": tensor '"
                + want.getKey()
                + "' has shape "
                + Arrays.toString(got.shape())
                + ", expected "
                + Arrays.toString(want.getValue()));
      }
    }
    requireDataSize();
  }

  private void requireNoOthers(java.util.Set<String> expected) {
    List<String> unused = entries.keySet().stream().filter(n -> !expected.contains(n)).toList();
    if (!unused.isEmpty()) {
      throw new CheckpointException(
          indexFile(prefix)
              + ": holds "
              + unused.size()
              + " tensor(s) the "
              + "model would not use ("
              + String.join(", ", unused.subList(0, Math.min(4, unused.size())))
              + (unused.size() > 4 ? ", ..." : "")
              + "); does hparams.json describe this checkpoint?");
    }
  }

  private void requireDataSize() {
    if (!entries.values().stream().allMatch(e -> e.dtype() == DataType.DT_FLOAT)) {
      return; // sizes of other dtypes vary; RestoreV2 still checks each tensor it reads
    }
    long expected = entries.values().stream().mapToLong(Entry::bytes).sum();
    Path data = dataFile(prefix);
    try {
      long actual = Files.size(data);
      if (actual < expected) {
        throw new CheckpointException(
            data
                + ": truncated: "
                + actual
                + " bytes, the index ("
                + indexFile(prefix).getFileName()
                + ") describes "
                + expected);
      }
    } catch (IOException e) {
      throw new CheckpointException(data + ": cannot read: " + e.getMessage(), e);
    }
  }

  public static Path indexFile(Path prefix) {
    return prefix.resolveSibling(prefix.getFileName() + ".index");
  }

  public static Path dataFile(Path prefix) {
    return prefix.resolveSibling(prefix.getFileName() + ".data-00000-of-00001");
  }

  static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse(s);
  }
}
