package dev.gpt2j.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The weights the memory plan counts, for every member of the family, against what TF's SaveV2
 * writes for a model of that shape: in float32 the checkpoint's data file is every tensor's bytes,
 * end to end.
 */
class PlannedWeightsTest {
  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.gpt2j.model.FamilyTest#variants")
  void thePlanCountsEveryByteTheCheckpointHolds(String name, HParams hp, @TempDir Path tmp) {
    Path dir = tmp.resolve("m");
    try (Gpt2Model model = Gpt2Model.fresh(hp, 1)) {
      model.save(dir);
    }
    long planned =
        MemoryPlan.sampling(hp, DType.FLOAT32, 1, 1, 1).items().stream()
            .filter(i -> i.what().startsWith("weights ("))
            .mapToLong(MemoryPlan.Item::bytes)
            .sum();
    assertEquals(dataFileBytes(dir), planned, name);
  }

  private static long dataFileBytes(Path dir) {
    try (var files = Files.list(dir)) {
      return files
          .filter(f -> f.getFileName().toString().contains(".data-"))
          .mapToLong(
              f -> {
                try {
                  return Files.size(f);
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              })
          .sum();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
