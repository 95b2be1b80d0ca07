package dev.gpt2j.cli;

import dev.gpt2j.checkpoint.GgmlExport;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.model.ModelVariables;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code export-ggml}: a GPT-2 model directory in ggml's gpt-2 example's file format. */
final class ExportGgmlCommand implements Command {
  @Override
  public String name() {
    return "export-ggml";
  }

  @Override
  public String summary() {
    return "write a GPT-2 model in ggml's examples/gpt-2 format (as its convert-ckpt-to-ggml.py)";
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
                .desc("f16 (default: matrices in float16, as ggml's default) or f32")
                .build());
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws Exception {
    Path dir = ModelDirOption.of(args, null);
    Path file = Path.of(args.required("out"));
    String ftype = args.string("ftype", "f16");
    if (!ftype.equals("f16") && !ftype.equals("f32")) {
      throw new UsageException("--ftype: expected f16 or f32, got '" + ftype + "'");
    }
    ModelOpening opening = ModelOpening.float32(args, dir);
    HParams hp = opening.hparams();
    GgmlExport.requireExportable(hp, opening.tokenizer()); // before the weights are loaded
    Map<String, long[]> shapes = new LinkedHashMap<>();
    ModelVariables.describe(hp).forEach(v -> shapes.put(v.name(), v.shape()));
    return opening.run(
        MemoryPlan.scoring(hp, DType.FLOAT32, 1, 1),
        out,
        err,
        model -> {
          GgmlExport.write(
              file, hp, model.tokenizer(), model.weights(), shapes, ftype.equals("f16"));
          out.println("wrote " + file + " (" + ftype + ")");
          return 0;
        });
  }
}
