package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.model.Architecture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * nanoGPT's character-level quick start through the commands a user types: prepare --tokenizer
 * char, train a LLaMA-style mixture from scratch on it, then sample and score with its chars.json.
 */
class CharModelTest {
  @TempDir Path tmp;

  @Test
  void aCharacterModelTrainsSamplesAndScoresWithItsOwnVocabulary() throws Exception {
    String play = "ROMEO: to be or not to be.\nJULIET: ay me!\n";
    Files.writeString(tmp.resolve("in.txt"), play.repeat(60));
    Path data = tmp.resolve("data");
    assertEquals(
        0,
        CliRunner.run(
                "prepare",
                "--input",
                tmp.resolve("in.txt").toString(),
                "--out",
                data.toString(),
                "--tokenizer",
                "char")
            .code());
    Path run = tmp.resolve("run");
    Path lambada = tmp.resolve("lambada.jsonl");
    Files.writeString(
        lambada, "{\"text\": \"ROMEO: to be or not to be\"}\n{\"text\": \"JULIET: ay me\"}\n");
    CliRunner.Outcome trained =
        CliRunner.run(
            "train",
            "--data_dir=" + data,
            "--out_dir=" + run,
            "--n_layer=1",
            "--n_head=2",
            "--n_embd=16",
            "--n_ctx=32",
            "--block_size=32",
            "--batch_size=4",
            "--max_iters=6",
            "--eval_interval=6",
            "--eval_iters=1",
            "--warmup_iters=0",
            "--lr_decay_iters=6",
            "--sample_interval=6",
            "--sample_prompt=ROMEO:",
            "--sample_length=8",
            "--norm=rmsnorm",
            "--mlp=swiglu",
            "--position=rope",
            "--n_kv_head=1",
            "--bias=false",
            "--moe_experts=2",
            "--dropout=0.1",
            "--eval_task=lambada",
            "--eval_task_data=" + lambada,
            "--eval_task_interval=3",
            "--xla=false");
    assertEquals(0, trained.code(), trained.err());
    assertTrue(trained.out().contains("(load-balancing "), trained.out());
    assertEquals(
        Files.readString(data.resolve("chars.json")), Files.readString(run.resolve("chars.json")));
    assertFalse(Files.exists(run.resolve("encoder.json")), "a character model has no BPE files");
    assertEquals(
        Files.readString(data.resolve("chars.json")).split("\",\"").length,
        ModelDir.hparams(run).nVocab(),
        "n_vocab is the data's vocabulary");
    assertEquals(Architecture.Norm.RMSNORM, ModelDir.hparams(run.resolve("best")).arch().norm());
    assertTrue(Files.exists(run.resolve("best/chars.json")));
    assertTaskLoggedAsEvalComputesIt(run, lambada, trained.out());

    CliRunner.Outcome sampled =
        CliRunner.run(
            "sample",
            "--model-dir",
            run.toString(),
            "--prompt",
            "JULIET:",
            "--length",
            "20",
            "--seed",
            "3");
    assertEquals(0, sampled.code(), sampled.err());
    String text = sampled.out().replaceAll("=+( SAMPLE 1 =+)?\n", "");
    assertEquals(21, text.length(), "20 characters and a newline: " + text);
    assertTrue(
        text.chars().allMatch(c -> play.indexOf(c) >= 0), "only the text's characters: " + text);

    CliRunner.Outcome scored =
        CliRunner.run("score", "--model-dir", run.toString(), "--text", "to be");
    assertEquals(0, scored.code(), scored.err());
    assertTrue(scored.out().contains("(4 tokens scored)"), scored.out());
    CliRunner.assertRefused(
        "--text: character 'q' (U+0071) at position 3 is not in the model's chars.json",
        "score",
        "--model-dir",
        run.toString(),
        "--text",
        "to q");
    CliRunner.assertRefused(
        "--unconditional starts from <|endoftext|>, which a model of characters does not have:"
            + " give a --prompt (see --help)",
        "sample",
        "--model-dir",
        run.toString(),
        "--unconditional");
  }

  // the run's last task figure is what eval says of the weights it saved at that step
  private static void assertTaskLoggedAsEvalComputesIt(Path run, Path data, String log)
      throws Exception {
    assertTrue(log.contains("lambada at iter 3: acc "), log);
    List<String> taskRows =
        Files.readAllLines(run.resolve("metrics.csv")).stream()
            .filter(l -> !l.startsWith("iter") && !l.endsWith(","))
            .toList();
    assertEquals(2, taskRows.size(), "at iter 3 and 6: " + taskRows);
    String[] last = taskRows.get(1).split(",");
    assertEquals("6", last[0]);
    CliRunner.Outcome eval =
        CliRunner.run(
            "eval",
            "--model-dir",
            run.toString(),
            "--task",
            "lambada",
            "--data",
            data.toString(),
            "--json");
    assertEquals(0, eval.code(), eval.err());
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(eval.out());
    assertEquals(json.get("acc").asDouble(), Double.parseDouble(last[6]), 1e-6);
    assertEquals(2, json.get("examples").asInt());
    assertEquals(1, eval.out().strip().lines().count(), "--json prints one object: " + eval.out());
    java.awt.image.BufferedImage png = javax.imageio.ImageIO.read(run.resolve("loss.png").toFile());
    // one chart: the task's figure shares the losses' iterations (MetricsTest checks its series)
    assertEquals(500, png.getHeight(), "the losses, the task's figure on an axis of its own");
  }
}
