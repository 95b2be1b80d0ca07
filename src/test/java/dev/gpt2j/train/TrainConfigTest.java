package dev.gpt2j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
    assertEquals(c.toProperties(), back.toProperties());
    assertEquals(c.samplePrompt(), back.samplePrompt());
    assertEquals(c.learningRate(), back.learningRate());
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
    // one line for each of the record's components, counted from the record itself
    assertEquals(
        TrainConfig.class.getRecordComponents().length,
        TrainConfig.load(null, Map.of())
            .toProperties()
            .lines()
            .filter(l -> l.contains(" = "))
            .count());
  }
}
