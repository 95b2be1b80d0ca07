package dev.gpt2j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.Gpt2Model;
import dev.gpt2j.eval.EvalSource;
import dev.gpt2j.eval.EvalTask;
import dev.gpt2j.eval.Evaluation;
import dev.gpt2j.eval.Metric;
import dev.gpt2j.eval.Report;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.DType;
import dev.gpt2j.model.HParams;
import dev.gpt2j.util.AtomicFiles;
import dev.gpt2j.util.Download;
import dev.gpt2j.util.Progress;
import dev.gpt2j.util.WritableDir;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import me.tongfei.progressbar.ProgressBar;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code eval}: HellaSwag, LAMBADA, WikiText or any text, scored as the published figures are. */
final class EvalCommand implements Command {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public String name() {
    return "eval";
  }

  @Override
  public String summary() {
    return "HellaSwag, LAMBADA, WikiText or a text file: accuracy or perplexity with 95% CIs";
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(ModelDirOption.option("OpenAI-layout model directory"))
        .addOption(opt("task", "TASK", "one of " + EvalTask.labels()))
        .addOption(
            opt("data", "FILE", "the task's data in its canonical format (default: downloaded)"))
        .addOption(opt("data-dir", "DIR", "where downloaded data is kept (default data/eval)"))
        .addOption(opt("data-url", "URL", "fetch the task's file from this mirror instead"))
        .addOption(opt("limit", "N", "evaluate the first N examples (text: N windows)"))
        .addOption(
            opt(
                "batch-size",
                "B",
                "examples per run of the model (default: about 4096 tokens' worth)"))
        .addOption(opt("stride", "S", "text tasks: window advance, 1 <= S < n_ctx (n_ctx/2)"))
        .addOption(DTypeOption.EVALUATION.option())
        .addOption(
            Option.builder()
                .longOpt("json")
                .desc("print one JSON object on standard output (progress stays on stderr)")
                .build())
        .addOption(opt("per-example", "FILE", "write each example's result as JSON lines"))
        .addOption(opt("timeout", "SECONDS", "download: give up on a silent server (30)"))
        .addOption(ModelOpening.dryRunOption("loading the model (the data is read first)"));
  }

  private static Option opt(String name, String arg, String desc) {
    return Option.builder().longOpt(name).hasArg().argName(arg).desc(desc).build();
  }

  @Override
  public String helpFooter() {
    return "\nhellaswag: acc picks the ending of least summed loss, acc_norm of least loss per "
        + "ending token (llm.c; EleutherAI's harness divides by characters). lambada: acc is "
        + "the share of last words that greedy decoding reproduces, ppl exp(mean loss per word). "
        + "wikitext/text: token perplexity in sliding windows, word perplexity and bits per "
        + "byte; wikitext is the raw test file, without the GPT-2 paper's de-tokenizers.";
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws IOException {
    Path dir = ModelDirOption.of(args, null);
    EvalTask task = EvalTask.of(args.required("task"), "--task");
    ModelOpening opening = ModelOpening.of(args, dir, DTypeOption.EVALUATION);
    HParams hp = opening.hparams();
    int stride = args.integer("stride", hp.nCtx() / 2);
    if (stride < 1 || stride >= hp.nCtx()) {
      throw new UsageException(
          "--stride: expected 1 <= S < n_ctx=" + hp.nCtx() + ", got " + stride);
    }
    Path perExample = args.has("per-example") ? Path.of(args.string("per-example", "")) : null;
    if (perExample != null) { // written after the evaluation: checked before it
      WritableDir.requireFile(perExample, "--per-example");
    }
    Path data = data(args, task); // a failed download: Main says why, exit 1
    Evaluation eval =
        Evaluation.read(
            task,
            data,
            args.has("data") ? "--data" : null,
            opening.tokenizer(),
            hp.nCtx(),
            limit(args),
            stride);
    int batch = args.positive("batch-size", eval.defaultBatch());
    MemoryPlan plan =
        MemoryPlan.scoring(hp, opening.dtype(), batch * eval.rowsPerExample(), eval.longestRow());
    if (ModelOpening.stopsAtPlan(args, plan, out)) {
      return 0;
    }
    DataFile file = DataFile.of(task, data);
    Report report;
    try (Gpt2Model model = opening.load(err);
        ProgressBar bar =
            Progress.bar(task.label, eval.examples()).setUnit(" " + eval.unit(), 1).build()) {
      report =
          eval.run(
              model.continuationScorer(),
              batch,
              (done, soFar) -> {
                bar.stepTo(done);
                bar.setExtraMessage(" " + brief(soFar, eval.headline()));
              });
    }
    if (perExample != null) {
      writePerExample(perExample, report);
    }
    if (args.has("json")) {
      out.println(JSON.writeValueAsString(json(report, dir, opening.dtype(), file)));
    } else {
      print(out, report, dir, opening.dtype(), file);
    }
    return 0;
  }

  private static int limit(Args args) {
    if (!args.has("limit")) {
      return 0; // every example
    }
    int limit = args.integer("limit", 0);
    if (limit < 1) {
      throw new UsageException(
          "--limit: expected N >= 1 (leave it out to evaluate every example), got " + limit);
    }
    return limit;
  }

  private static Path data(Args args, EvalTask task) {
    if (args.has("data")) {
      return Path.of(args.string("data", ""));
    }
    if (task.source == null) {
      throw new UsageException("--task " + task.label + " needs --data FILE");
    }
    EvalSource source = task.source;
    if (args.has("data-url")) {
      source =
          new EvalSource(
              source.file(),
              List.of(Download.httpUrl(args.string("data-url", ""), "--data-url")),
              source.checksum(),
              source.zipEntry());
    }
    return source.ensure(
        args.path("data-dir", EvalTask.DATA_DIR.toString()),
        args.seconds("timeout", Download.DEFAULT_TIMEOUT));
  }

  // the headline figure so far: the bar keeps the rest of the line (the report has them all)
  private static String brief(List<Metric> metrics, String headline) {
    return metrics.stream()
        .filter(m -> m.name().equals(headline))
        .map(m -> String.format(Locale.ROOT, "%s %.4f", m.name(), m.value()))
        .collect(Collectors.joining(" "));
  }

  /**
   * The file evaluated, and whether it is the published one (its digest is the task's); null when
   * the task has no published file (a text of the user's).
   */
  record DataFile(Path path, Boolean published) {
    static DataFile of(EvalTask task, Path data) {
      return new DataFile(data, task.source == null ? null : task.source.checksum().matches(data));
    }

    String describe() {
      return path
          + (published == null
              ? ""
              : published
                  ? " (the published file)"
                  : " (not the published file: its digest differs, so the figures are not"
                      + " comparable with published ones)");
    }
  }

  private static void print(PrintStream out, Report r, Path dir, DType dtype, DataFile file) {
    out.printf(
        Locale.ROOT,
        "%s on %s (%s): %,d %s in %.1f s (%.2f/s)%n",
        r.task(),
        dir,
        dtype.label,
        r.examples(),
        r.unit(),
        r.seconds(),
        r.examples() / r.seconds());
    out.println("data: " + file.describe());
    for (Metric m : r.metrics()) {
      out.printf(
          Locale.ROOT,
          "%-14s %10.4f   95%% CI [%.4f, %.4f]%n",
          m.name(),
          m.value(),
          m.lo(),
          m.hi());
    }
    if (!r.extra().isEmpty()) {
      out.println(
          r.extra().entrySet().stream()
              .map(e -> String.format(Locale.ROOT, "%s %,d", e.getKey(), (Long) e.getValue()))
              .collect(Collectors.joining(", ", "over ", "")));
    }
  }

  static Map<String, Object> json(Report r, Path dir, DType dtype, DataFile file) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("task", r.task());
    m.put("model_dir", dir.toString());
    m.put("data", file.path().toString());
    m.put("data_published", file.published());
    m.put("dtype", dtype.label);
    m.put("examples", r.examples());
    m.put("seconds", r.seconds());
    for (Metric metric : r.metrics()) {
      m.put(metric.name(), metric.value());
      m.put(metric.name() + "_ci95", new double[] {metric.lo(), metric.hi()});
    }
    m.putAll(r.extra());
    return m;
  }

  private static void writePerExample(Path file, Report r) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (Map<String, Object> e : r.perExample()) {
      sb.append(JSON.writeValueAsString(e)).append('\n');
    }
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    AtomicFiles.writeString(file, sb.toString());
  }
}
