package dev.gpt2j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.Gpt2Model;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.CharTokenizer;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.Progress;
import dev.gpt2j.util.TextFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code score}: per-token log-probabilities of a text under a model. */
final class ScoreCommand implements Command {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public String name() {
    return "score";
  }

  @Override
  public String summary() {
    return "log-probability of each token of a text, with total, mean and perplexity";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(ModelDirOption.option("OpenAI-layout model directory"))
        .addOption(
            Option.builder().longOpt("text").hasArg().argName("TEXT").desc("text to score").build())
        .addOption(
            Option.builder()
                .longOpt("file")
                .hasArg()
                .argName("FILE")
                .desc("UTF-8 file to score")
                .build())
        .addOption(
            Option.builder()
                .longOpt("tokens")
                .hasArg()
                .argName("IDS")
                .desc("comma-separated token ids to score")
                .build())
        .addOption(Option.builder().longOpt("json").desc("print one JSON object").build())
        .addOption(ModelOpening.dryRunOption("loading the model"))
        .addOption(DTypeOption.SCORING.option());
  }

  @Override
  public String helpFooter() {
    return "\nlogprobs[i] is ln p(tokens[i+1] | tokens[0..i]); nothing is added to the input. "
        + "Inputs longer than n_ctx are scored in windows of n_ctx tokens advancing by n_ctx/2; "
        + "each window scores only tokens not yet scored, so every token after the first window "
        + "is predicted from at least n_ctx/2 tokens of context.";
  }

  // more than one window of n_ctx: a progress bar over the tokens scored
  private static double[] score(Gpt2Model model, int[] tokens) {
    if (tokens.length <= model.hparams().nCtx()) {
      return model.score(tokens);
    }
    try (ProgressBar bar = Progress.bar("score", tokens.length - 1).setUnit(" tokens", 1).build()) {
      return model.score(tokens, bar::stepTo);
    }
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws Exception {
    Path dir = ModelDirOption.of(args, null);
    ModelOpening opening = ModelOpening.of(args, dir, DTypeOption.SCORING);
    Tokenizer tokenizer = opening.tokenizer();
    int[] tokens = tokens(args, tokenizer);
    if (tokens.length < 2) {
      throw new UsageException("need at least 2 tokens to score, the input has " + tokens.length);
    }
    HParams hp = opening.hparams();
    try {
      hp.requireInVocabulary(
          tokens, args.has("tokens") ? "--tokens: id" : source(args) + ": token");
    } catch (IllegalArgumentException e) {
      boolean charsMissing =
          !args.has("tokens")
              && !(tokenizer instanceof CharTokenizer)
              && hp.nVocab() < HParams.GPT2_VOCAB;
      throw new UsageException(
          e.getMessage()
              + (charsMissing
                  ? "; "
                      + dir
                      + " has no "
                      + CharTokenizer.FILE_NAME
                      + ", so the text was read as GPT-2 tokens (a character-level model needs"
                      + " its "
                      + CharTokenizer.FILE_NAME
                      + ")"
                  : ""));
    }
    MemoryPlan plan =
        MemoryPlan.scoring(hp, opening.dtype(), 1, Math.min(tokens.length, hp.nCtx()));
    return opening.run(
        plan, out, err, model -> print(args, tokenizer, tokens, score(model, tokens), out));
  }

  private static int print(
      Args args, Tokenizer tokenizer, int[] tokens, double[] logprobs, PrintStream out)
      throws IOException {
    double total = Arrays.stream(logprobs).sum();
    double mean = total / logprobs.length;
    if (args.has("json")) {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("tokens", tokens);
      json.put("logprobs", logprobs);
      json.put("total", total);
      json.put("mean", mean);
      json.put("perplexity", Math.exp(-mean));
      out.println(JSON.writeValueAsString(json));
    } else {
      out.printf("%6s %7s %12s  %s%n", "pos", "token", "logprob", "text");
      for (int i = 0; i < logprobs.length; i++) {
        out.printf(
            "%6d %7d %12.6f  %s%n",
            i + 1, tokens[i + 1], logprobs[i], printable(tokenizer, tokens[i + 1]));
      }
      out.printf(
          "total %.6f  mean %.6f  perplexity %.4f  (%d tokens scored)%n",
          total, mean, Math.exp(-mean), logprobs.length);
    }
    return 0;
  }

  private static String printable(Tokenizer tokenizer, int token) {
    try {
      return JSON.writeValueAsString(tokenizer.decode(token));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  // the option the text came from
  private static String source(Args args) {
    return args.has("text") ? "--text" : "--file";
  }

  private static int[] tokens(Args args, Tokenizer tokenizer) throws IOException {
    int given =
        (args.has("text") ? 1 : 0) + (args.has("file") ? 1 : 0) + (args.has("tokens") ? 1 : 0);
    if (given != 1) {
      throw new UsageException("give exactly one of --text, --file, --tokens");
    }
    if (args.has("text")) {
      return encode(tokenizer, args.string("text", ""), "--text");
    }
    if (args.has("file")) {
      String file = args.string("file", "");
      return encode(tokenizer, TextFiles.readUtf8(Path.of(file), "--file"), "--file " + file);
    }
    return parseIds(args.string("tokens", ""));
  }

  private static int[] encode(Tokenizer tokenizer, String text, String option) {
    try {
      return tokenizer.encode(text);
    } catch (IllegalArgumentException e) { // a character outside a character model's vocabulary
      throw new IllegalArgumentException(option + ": " + e.getMessage(), e);
    }
  }

  static int[] parseIds(String csv) {
    try {
      return Arrays.stream(csv.split(","))
          .map(String::trim)
          .filter(s -> !s.isEmpty())
          .mapToInt(Integer::parseInt)
          .toArray();
    } catch (NumberFormatException e) {
      throw new UsageException("--tokens expects comma-separated integers, got '" + csv + "'");
    }
  }
}
