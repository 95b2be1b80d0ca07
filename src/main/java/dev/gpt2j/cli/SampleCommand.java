package dev.gpt2j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.Gpt2Model;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.Decoder;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.tokenizer.TextStream;
import dev.gpt2j.tokenizer.Tokenizer;
import dev.gpt2j.util.LibC;
import dev.gpt2j.util.TextFiles;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code sample}: GPT-2 text after a prompt, streamed as it is generated. */
final class SampleCommand implements Command {
  static final String DEFAULT_MODEL_DIR = "checkpoints/124M";
  static final String RULE = "=".repeat(40);

  @Override
  public String name() {
    return "sample";
  }

  @Override
  public String summary() {
    return "generate text after a prompt (KV-cached; greedy, temperature, top-k, top-p)";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(
            ModelDirOption.option(
                "OpenAI-layout model directory (default " + DEFAULT_MODEL_DIR + ")"))
        .addOption(opt("prompt", "TEXT", "the prompt (else --prompt-file, else standard input)"))
        .addOption(opt("prompt-file", "FILE", "read the prompt from a UTF-8 file"))
        .addOption(opt("length", "N", "new tokens per sample (default n_ctx/2)"))
        .addOption(
            opt(
                "temperature",
                "T",
                "divide logits by T (default " + SampleOptions.DEFAULT_TEMPERATURE + ")"))
        .addOption(
            opt(
                "top-k",
                "K",
                "keep the K most likely tokens, 0 = off (default "
                    + SampleOptions.DEFAULT_TOP_K
                    + ", openai/gpt-2's recommendation)"))
        .addOption(
            opt(
                "top-p",
                "P",
                "nucleus: keep the smallest set of tokens with probability <= P, "
                    + "1 = off (default "
                    + SampleOptions.DEFAULT_TOP_P
                    + ")"))
        .addOption(flag("greedy", "always take the most likely token (argmax)"))
        .addOption(
            opt(
                "seed",
                "S",
                "random seed; the same seed and options give the same text "
                    + "(default: a random seed, printed on stderr)"))
        .addOption(opt("nsamples", "N", "number of samples (default: one batch)"))
        .addOption(
            opt(
                "batch-size",
                "B",
                "samples generated together; divides nsamples (default "
                    + SampleOptions.DEFAULT_SAMPLES
                    + ")"))
        .addOption(
            flag(
                "per-line",
                "each non-blank line of --prompt-file (or standard input) is a prompt of its own,"
                    + " one sample each, --batch-size lines decoding side by side (default up to "
                    + PerLineSample.DEFAULT_ROWS
                    + ")"))
        .addOption(flag("stop-at-eot", "end a sample at <|endoftext|>"))
        .addOption(flag("unconditional", "no prompt: start from <|endoftext|>"))
        .addOption(flag("interactive", "read prompts line by line and sample after each"))
        .addOption(
            flag(
                "sliding-window",
                "allow prompt + length beyond n_ctx: keep the last n_ctx/2 tokens"))
        .addOption(flag("json", "one JSON line per sample: prompt_tokens, tokens, text"))
        .addOption(ModelOpening.dryRunOption("loading the model"))
        .addOption(DTypeOption.DECODING.option());
  }

  private static Option opt(String name, String arg, String desc) {
    return Option.builder().longOpt(name).hasArg().argName(arg).desc(desc).build();
  }

  private static Option flag(String name, String desc) {
    return Option.builder().longOpt(name).desc(desc).build();
  }

  @Override
  public String helpFooter() {
    return "\nAs openai/gpt-2's sample.py: logits / temperature, then top-k, then top-p, then a "
        + "categorical draw.";
  }

  private static MemoryPlan memoryPlan(
      HParams hp, DType dtype, SampleOptions options, int promptTokens) {
    int prompt = Math.min(promptTokens, hp.nCtx());
    int tokens = Math.min(hp.nCtx(), prompt + options.lengthFor(hp.nCtx()));
    return MemoryPlan.sampling(hp, dtype, options.batchSize(), tokens, prompt);
  }

  static SampleOptions sampleOptions(Args args) {
    long seed = args.has("seed") ? args.longValue("seed", 0) : new SecureRandom().nextInt(1 << 30);
    int batchSize = args.integer("batch-size", SampleOptions.DEFAULT_SAMPLES);
    int length = args.integer("length", 0); // 0: n_ctx/2, when not given
    if (args.has("length") && length < 1) {
      throw new UsageException(
          "--length: expected N >= 1 new tokens (leave it out for n_ctx/2), got " + length);
    }
    try {
      return SampleOptions.builder()
          .length(length)
          .temperature(args.decimal("temperature", SampleOptions.DEFAULT_TEMPERATURE))
          .topK(args.integer("top-k", SampleOptions.DEFAULT_TOP_K))
          .topP(args.decimal("top-p", SampleOptions.DEFAULT_TOP_P))
          .greedy(args.has("greedy"))
          .seed(seed)
          .samples(
              args.integer("nsamples", batchSize), // one batch unless told otherwise
              batchSize)
          .stopAtEndOfText(args.has("stop-at-eot"))
          .slidingWindow(args.has("sliding-window"))
          .build();
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws IOException {
    SampleOptions options = sampleOptions(args);
    Path dir = ModelDirOption.of(args, DEFAULT_MODEL_DIR);
    ModelOpening opening = ModelOpening.of(args, dir, DTypeOption.DECODING);
    HParams hp = opening.hparams();
    DType dtype = opening.dtype();
    if (args.has("dry-run")) { // the prompt is not read: its length hardly matters
      ModelOpening.printPlan(memoryPlan(hp, dtype, options, 1), out);
      return 0;
    }
    BufferedReader stdin =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    if (args.has("interactive")
        && (args.has("prompt") || args.has("prompt-file") || args.has("unconditional"))) {
      throw new UsageException(
          "--interactive reads its prompts from standard input: it takes no --prompt,"
              + " --prompt-file or --unconditional");
    }
    if (args.has("per-line")) {
      if (args.has("prompt")) {
        throw new UsageException("--per-line reads --prompt-file or standard input, not --prompt");
      }
      return PerLineSample.run(args, prompt(args, stdin), options, opening, out, err);
    }
    Tokenizer tokenizer = opening.tokenizer();
    String prompt = args.has("interactive") ? null : prompt(args, stdin);
    int[] promptTokens =
        prompt == null ? null : encode(tokenizer, prompt, args.has("unconditional"));
    ModelOpening.stopsAtPlan(
        args,
        memoryPlan(hp, dtype, options, promptTokens == null ? hp.nCtx() / 2 : promptTokens.length),
        out);
    if (promptTokens != null) { // before any work: the weights are not loaded yet
      Decoder.requireFits(hp, promptTokens, options.lengthFor(hp.nCtx()), options.slidingWindow());
    }
    try (Gpt2Model model = opening.load(err)) {
      if (!args.has("seed") && !options.greedy()) {
        err.println("(seed " + options.seed() + ")"); // to repeat this run
      }
      if (promptTokens != null) {
        sample(model, promptTokens, options, args.has("json"), out);
        return 0;
      }
      while (true) {
        err.print("Model prompt >>> ");
        err.flush();
        String line = stdin.readLine();
        if (line == null) {
          return 0;
        }
        if (line.isBlank()) {
          err.println("Prompt should not be empty!");
          continue;
        }
        int[] tokens;
        try {
          tokens = tokenizer.encode(line);
        } catch (IllegalArgumentException e) { // a character the model has never seen
          err.println(e.getMessage());
          continue;
        }
        Decoder.requireFits(hp, tokens, options.lengthFor(hp.nCtx()), options.slidingWindow());
        sample(model, tokens, options, args.has("json"), out);
      }
    }
  }

  private static int[] encode(Tokenizer tokenizer, String prompt, boolean unconditional) {
    if (!unconditional) {
      try {
        return tokenizer.encode(prompt);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--prompt: " + e.getMessage(), e);
      }
    }
    int endOfText =
        tokenizer
            .endOfText()
            .orElseThrow(
                () ->
                    new UsageException(
                        "--unconditional starts from <|endoftext|>, which a model of characters"
                            + " does not have: give a --prompt"));
    return new int[] {endOfText};
  }

  private static String prompt(Args args, BufferedReader stdin) throws IOException {
    if (args.has("unconditional")) {
      if (args.has("prompt") || args.has("prompt-file")) {
        throw new UsageException("--unconditional takes no prompt");
      }
      return "";
    }
    String prompt;
    if (args.has("prompt")) {
      prompt = args.string("prompt", "");
    } else if (args.has("prompt-file")) {
      prompt = TextFiles.readUtf8(Path.of(args.string("prompt-file", "")), "--prompt-file");
    } else {
      if (LibC.isTerminal(LibC.STDIN)) { // else a pipe or a file is there, and says nothing
        System.err.println("reading the prompt from standard input (Ctrl-D to end)");
      }
      java.io.StringWriter all = new java.io.StringWriter();
      stdin.transferTo(all);
      prompt = all.toString();
    }
    if (prompt.isEmpty()) {
      throw new UsageException(
          "the prompt is empty (give --prompt, --prompt-file, standard input, "
              + "or --unconditional)");
    }
    return prompt;
  }

  /**
   * Streams tokens as drawn when one sample is made at a time; else prints each batch when done.
   */
  private static void sample(
      Gpt2Model model, int[] prompt, SampleOptions options, boolean json, PrintStream out) {
    boolean streaming = !json && options.batchSize() == 1;
    ObjectMapper mapper = new ObjectMapper();
    TextStream text = new TextStream(model.tokenizer());
    model.generate(
        prompt,
        options,
        new Gpt2Model.Listener() {
          @Override
          public void batchStarted(int firstSample) {
            if (streaming) {
              out.println(header(firstSample + 1));
            }
          }

          @Override
          public void accept(int sample, int token) {
            if (streaming) {
              out.print(text.push(token));
              out.flush();
            }
          }

          private int done;

          @Override
          public void batchDone(List<Gpt2Model.Generation> samples) {
            for (Gpt2Model.Generation g : samples) {
              done++;
              if (json) {
                out.println(json(mapper, g));
              } else if (streaming) {
                out.println(text.finish());
              } else {
                out.println(header(done));
                out.println(g.text());
              }
            }
          }
        });
    if (!json) {
      out.println(RULE + RULE);
    }
  }

  private static String json(ObjectMapper mapper, Gpt2Model.Generation g) {
    try {
      return mapper.writeValueAsString(fields(g));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A sample's JSON line: prompt_tokens, tokens, text. */
  static Map<String, Object> fields(Gpt2Model.Generation g) {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("prompt_tokens", g.promptTokens());
    line.put("tokens", g.tokens());
    line.put("text", g.text());
    return line;
  }

  private static String header(int sample) {
    return RULE + " SAMPLE " + sample + " " + RULE;
  }
}
