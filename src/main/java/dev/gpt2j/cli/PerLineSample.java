package dev.gpt2j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.Gpt2Model;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.HParams;
import dev.gpt2j.sampling.Decoder;
import dev.gpt2j.sampling.SampleOptions;
import dev.gpt2j.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code sample --per-line}: every non-blank line of the prompt text is a prompt of its own, one
 * sample each, {@code --batch-size} rows decoding side by side whatever their lengths.
 */
final class PerLineSample {
  static final int DEFAULT_ROWS = 8;

  private PerLineSample() {}

  /** One prompt: its line number in the text, and its tokens. */
  record Line(int number, int[] tokens) {}

  /** The text's non-blank lines, encoded; a line the model cannot take is refused naming it. */
  static List<Line> lines(String text, Tokenizer tokenizer, HParams hp, SampleOptions options) {
    String[] raw = text.split("\n", -1);
    List<Line> lines = new ArrayList<>();
    for (int i = 0; i < raw.length; i++) {
      String line = raw[i].endsWith("\r") ? raw[i].substring(0, raw[i].length() - 1) : raw[i];
      if (line.isBlank()) {
        continue;
      }
      try {
        int[] tokens = tokenizer.encode(line);
        Decoder.requireFits(hp, tokens, options.lengthFor(hp.nCtx()), options.slidingWindow());
        lines.add(new Line(i + 1, tokens));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("line " + (i + 1) + ": " + e.getMessage(), e);
      }
    }
    if (lines.isEmpty()) {
      throw new UsageException("--per-line: the prompt text has no non-blank line");
    }
    return lines;
  }

  static int run(
      Args args,
      String text,
      SampleOptions options,
      ModelOpening opening,
      PrintStream out,
      PrintStream err)
      throws IOException {
    for (String other : List.of("interactive", "unconditional", "nsamples")) {
      if (args.has(other)) {
        throw new UsageException("--per-line makes one sample per line: it takes no --" + other);
      }
    }
    HParams hp = opening.hparams();
    List<Line> lines = lines(text, opening.tokenizer(), hp, options);
    int rows = args.positive("batch-size", Math.min(DEFAULT_ROWS, lines.size()));
    int longest = lines.stream().mapToInt(l -> l.tokens().length).max().getAsInt();
    int tokens = Math.min(hp.nCtx(), longest + options.lengthFor(hp.nCtx()));
    ModelOpening.stopsAtPlan(
        args, MemoryPlan.sampling(hp, opening.dtype(), rows, tokens, longest), out);
    List<Gpt2Model.Generation> samples;
    try (Gpt2Model model = opening.load(err)) {
      if (!args.has("seed") && !options.greedy()) {
        err.println("(seed " + options.seed() + ")"); // to repeat this run
      }
      samples =
          model.generateEach(
              lines.stream().map(Line::tokens).toArray(int[][]::new),
              options,
              rows,
              (sample, token) -> {});
    }
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < samples.size(); i++) {
      Gpt2Model.Generation g = samples.get(i);
      if (args.has("json")) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("line", lines.get(i).number());
        line.putAll(SampleCommand.fields(g));
        out.println(json.writeValueAsString(line));
      } else {
        out.println(
            SampleCommand.RULE + " LINE " + lines.get(i).number() + " " + SampleCommand.RULE);
        out.println(g.text());
      }
    }
    if (!args.has("json")) {
      out.println(SampleCommand.RULE + SampleCommand.RULE);
    }
    return 0;
  }
}
