package dev.gpt2j.cli;

import dev.gpt2j.checkpoint.ModelDir;
import dev.gpt2j.gguf.GgufImport;
import dev.gpt2j.model.HParams;
import dev.gpt2j.util.WritableDir;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code import-gguf}: a GPT-2 GGUF file as an OpenAI-layout model directory. */
final class ImportGgufCommand implements Command {
  @Override
  public String name() {
    return "import-gguf";
  }

  @Override
  public String summary() {
    return "write a GPT-2 GGUF file (F32, F16 or BF16) as an OpenAI-layout model directory, for"
        + " sample, score, eval, serve and train";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(
            Option.builder().longOpt("gguf").hasArg().argName("FILE").desc("file to read").build())
        .addOption(
            Option.builder()
                .longOpt("out")
                .hasArg()
                .argName("DIR")
                .desc("model directory to write (absent or empty)")
                .build());
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) {
    Path gguf = Path.of(args.required("gguf"));
    Path dir = Path.of(args.required("out"));
    if (!Files.isRegularFile(gguf)) {
      throw new UsageException("--gguf: " + gguf + " is not a file");
    }
    ModelDir.requireAbsentOrEmpty(dir);
    WritableDir.require(dir, "--out");
    HParams hp = GgufImport.toModelDir(gguf, dir);
    out.println("wrote " + dir + ": " + hp.describe());
    return 0;
  }
}
