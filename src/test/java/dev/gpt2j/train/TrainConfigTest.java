package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gpt2j.model.Architecture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {
  @Test
  void theResolvedConfigReadsBackAsTheSameConfig(@TempDir Path tmp) throws Exception {
    TrainConfig c =
        TrainConfig.load(
            Path.of("configs/shakespeare.properties"),
            Map.of("max_iters", "77", "sample_prompt", "ROMEO:\\nJULIET:"));
    assertEquals(77, c.maxIters());
    assertEquals("ROMEO:\nJULIET:", c.samplePrompt());
    Path written = tmp.resolve("config.properties");
    Files.writeString(written, c.toProperties());
    TrainConfig back = TrainConfig.load(written, Map.of());
    assertEquals(c, back);
    // a mixture with LLaMA's blocks: the architecture's keys, folded into one component, come back
    TrainConfig moe =
        TrainConfig.load(
            Path.of("configs/llama-shakespeare.properties"),
            Map.of("moe_experts", "4", "moe_top_k", "1", "rope_theta", "500"));
    Files.writeString(written, moe.toProperties());
    assertEquals(moe, TrainConfig.load(written, Map.of()));
    assertEquals(4, moe.architecture().moeExperts());
  }

  @Test
  void everyKeyHasADefaultAndEveryConfigFileUsesOnlyKnownKeys() {
    for (String file :
        new String[] {
          "shakespeare",
          "shakespeare-char",
          "llama-shakespeare",
          "moe-shakespeare",
          "finetune-124M",
          "finetune-355M"
        }) {
      TrainConfig c = // throws on unknown keys and on a model that cannot be built
          TrainConfig.load(Path.of("configs/" + file + ".properties"), Map.of());
      c.scratchModel(65);
    }
    // one line for each of the record's components, counted from the record itself, the
    // architecture's one component written as its keys
    assertEquals(
        TrainConfig.class.getRecordComponents().length - 1 + Architecture.keys().size(),
        TrainConfig.load(null, Map.of())
            .toProperties()
            .lines()
            .filter(l -> l.contains(" = "))
            .count());
  }
}
