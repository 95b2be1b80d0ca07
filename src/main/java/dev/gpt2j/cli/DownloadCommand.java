package dev.gpt2j.cli;

import dev.gpt2j.checkpoint.OpenAiModels;
import dev.gpt2j.model.ModelSize;
import dev.gpt2j.util.Download;
import dev.gpt2j.util.WritableDir;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code download}: one of OpenAI's GPT-2 checkpoints, as openai/gpt-2's download_model.py. */
final class DownloadCommand implements Command {
  @Override
  public String name() {
    return "download";
  }

  @Override
  public String summary() {
    return "fetch OpenAI's GPT-2 checkpoint files (resumable, size-checked)";
  }

  @Override
  public boolean usesTensorFlow() {
    return false;
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(
            Option.builder()
                .longOpt("model")
                .hasArg()
                .argName("SIZE")
                .desc("one of " + ModelSize.labels())
                .build())
        .addOption(
            Option.builder()
                .longOpt("dir")
                .hasArg()
                .argName("DIR")
                .desc("parent directory (default checkpoints); files go to DIR/SIZE")
                .build())
        .addOption(
            Option.builder()
                .longOpt("base-url")
                .hasArg()
                .argName("URL")
                .desc("mirror of OpenAI's bucket (default " + OpenAiModels.BASE_URL + ")")
                .build())
        .addOption(
            Option.builder()
                .longOpt("timeout")
                .hasArg()
                .argName("SECONDS")
                .desc(
                    "give up on a server that says nothing for this long (default "
                        + Download.DEFAULT_TIMEOUT.toSeconds()
                        + ")")
                .build());
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) {
    ModelSize size = ModelSize.of(args.required("model"));
    Path parent = args.path("dir", "checkpoints");
    WritableDir.require(parent, "--dir");
    try {
      Path dir =
          OpenAiModels.download(
              size,
              parent,
              args.string("base-url", OpenAiModels.BASE_URL),
              args.seconds("timeout", Download.DEFAULT_TIMEOUT),
              (name, outcome) ->
                  out.println(name + ": " + outcome.name().toLowerCase().replace('_', ' ')));
      out.println("model " + size.label + " is in " + dir);
      return 0;
    } catch (Download.DownloadException e) {
      err.println("gpt2 download: " + e.getMessage());
      return 1;
    }
  }
}
