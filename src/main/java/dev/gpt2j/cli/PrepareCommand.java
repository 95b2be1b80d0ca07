package dev.gpt2j.cli;

import dev.gpt2j.data.Prepare;
import dev.gpt2j.util.Download;
import dev.gpt2j.util.WritableDir;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code prepare}: text to nanoGPT-style train.bin / val.bin. */
final class PrepareCommand implements Command {
  /** Tiny Shakespeare's public home (karpathy/char-rnn), as nanoGPT's prepare.py fetches it. */
  static final String SHAKESPEARE_URL =
      "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";

  @Override
  public String name() {
    return "prepare";
  }

  @Override
  public String summary() {
    return "tokenize text into train.bin / val.bin (uint16 GPT-2 or character ids, nanoGPT's format)";
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
                .longOpt("input")
                .hasArg()
                .argName("FILE|DIR")
                .desc("a UTF-8 text file, or a directory whose files are joined with <|endoftext|>")
                .build())
        .addOption(
            Option.builder()
                .longOpt("url")
                .hasArg()
                .argName("URL")
                .desc("fetch the input first (to OUT/input.txt), e.g. Tiny Shakespeare's (below)")
                .build())
        .addOption(
            Option.builder()
                .longOpt("out")
                .hasArg()
                .argName("DIR")
                .desc("output directory, e.g. data/shakespeare")
                .build())
        .addOption(
            Option.builder()
                .longOpt("val-fraction")
                .hasArg()
                .argName("F")
                .desc("share held out for validation (default 0.1)")
                .build())
        .addOption(
            Option.builder()
                .longOpt("tokenizer")
                .hasArg()
                .argName("gpt2|char")
                .desc(
                    "gpt2 (default: GPT-2's BPE) or char (one token per character, the"
                        + " vocabulary written as OUT/chars.json, as nanoGPT's shakespeare_char)")
                .build());
  }

  @Override
  public String helpFooter() {
    return "\nOne file splits by characters like nanoGPT's shakespeare prepare.py (first 90% train); "
        + "a directory's token sequence splits at the same fraction. Tiny Shakespeare, which make"
        + " data fetches:\n  "
        + SHAKESPEARE_URL;
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws IOException {
    Path outDir = Path.of(args.required("out"));
    Prepare.Tokens tokens = tokens(args.string("tokenizer", "gpt2"));
    Path input;
    if (args.has("url")) {
      if (args.has("input")) {
        throw new UsageException("give --input or --url, not both");
      }
      URI url = Download.httpUrl(args.string("url", ""), "--url"); // before anything is made
      WritableDir.require(outDir, "--out");
      Files.createDirectories(outDir);
      input = outDir.resolve("input.txt");
      try {
        Download.fetch(url, input, Download.DEFAULT_TIMEOUT);
      } catch (Download.DownloadException e) {
        err.println(
            "gpt2 prepare: "
                + e.getMessage()
                + ". Without network access, pass the text "
                + "with --input FILE (make data DATA_FILE=...)");
        return 1;
      }
    } else {
      input = Path.of(args.required("input"));
      WritableDir.require(outDir, "--out"); // before the text is tokenized
    }
    long start = System.nanoTime();
    Prepare.Counts counts =
        Prepare.prepare(input, outDir, args.decimal("val-fraction", 0.1), tokens);
    out.printf(
        "%s: %,d train tokens, %,d val tokens from %d file(s) in %.1f s -> %s%n",
        input,
        counts.trainTokens(),
        counts.valTokens(),
        counts.files(),
        (System.nanoTime() - start) / 1e9,
        outDir);
    return 0;
  }

  private static Prepare.Tokens tokens(String name) {
    return switch (name) {
      case "gpt2" -> Prepare.Tokens.GPT2;
      case "char" -> Prepare.Tokens.CHAR;
      default -> throw new UsageException("--tokenizer must be gpt2 or char, got '" + name + "'");
    };
  }
}
