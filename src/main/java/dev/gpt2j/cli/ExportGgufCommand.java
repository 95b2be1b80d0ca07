package dev.gpt2j.cli;

import dev.gpt2j.gguf.GgufExport;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.util.WritableDir;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code export-gguf}: a model directory as a GGUF file that llama.cpp runs as it is. */
final class ExportGgufCommand implements Command {
  @Override
  public String name() {
    return "export-gguf";
  }

  @Override
  public String summary() {
    return "write a model as GGUF for llama.cpp (and ollama, LM Studio): GPT-2 as gpt2, LLaMA-style"
        + " family members as llama";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(ModelDirOption.option("OpenAI-layout model directory"))
        .addOption(
            Option.builder().longOpt("out").hasArg().argName("FILE").desc("file to write").build())
        .addOption(
            Option.builder()
                .longOpt("ftype")
                .hasArg()
                .argName("T")
                .desc(
                    "the matrices' type: f32, f16 or bf16 (default f16, as llama.cpp's converter);"
                        + " norms and biases stay f32")
                .build());
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws Exception {
    Path dir = ModelDirOption.of(args, null);
    Path file = Path.of(args.required("out"));
    GgufExport.FileType type;
    try {
      type = GgufExport.FileType.of(args.string("ftype", "f16"), "--ftype");
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    WritableDir.requireFile(file, "--out");
    ModelOpening opening = ModelOpening.float32(args, dir);
    HParams hp = opening.hparams();
    GgufExport.requireExportable(hp, opening.tokenizer()); // before the weights are loaded
    String name = dir.toAbsolutePath().normalize().getFileName().toString();
    return opening.run(
        MemoryPlan.scoring(hp, DType.FLOAT32, 1, 1),
        out,
        err,
        model -> {
          GgufExport.write(file, name, hp, model.tokenizer(), model.weights(), type);
          out.println("wrote " + file + " (" + type.label() + ")");
          return 0;
        });
  }
}
