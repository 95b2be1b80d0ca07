package dev.gpt2j.cli;

import dev.gpt2j.checkpoint.CheckpointException;
import dev.gpt2j.cluster.ClusterException;
import dev.gpt2j.util.Download;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.commons.cli.UnrecognizedOptionException;
import org.tensorflow.exceptions.TFResourceExhaustedException;

/** {@code java -jar gpt2.jar COMMAND [options]}. */
public final class Main {
  private static final Map<String, Command> COMMANDS = new LinkedHashMap<>();

  static {
    for (Command c :
        List.<Command>of(
            new InitCommand(),
            new ScoreCommand(),
            new SampleCommand(),
            new DownloadCommand(),
            new BenchSampleCommand(),
            new PrepareCommand(),
            new TrainCommand(),
            new BenchTrainCommand(),
            new EvalCommand(),
            new ExportGgmlCommand(),
            new ExportGgufCommand(),
            new ImportGgufCommand(),
            new ServeCommand(),
            new BenchServeCommand(),
            new WorkerCommand())) {
      COMMANDS.put(c.name(), c);
    }
  }

  private Main() {}

  public static void main(String[] argv) {
    List<String> args = Arrays.asList(argv);
    Command command = argv.length == 0 ? null : COMMANDS.get(argv[0]);
    if (command != null && command.usesTensorFlow() && !args.contains("--help")) {
      TfRuntime.configure(args.contains("--verbose"), command.hotJavaLoops(), argv);
      if (!args.contains("--verbose")) {
        StderrFilter.install();
      }
    }
    System.exit(run(argv));
  }

  static int run(String[] argv) {
    return run(
        argv,
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8),
        new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
  }

  /** Runs one command line; returns the exit code (0 ok, 1 failure, 2 bad input). */
  public static int run(String[] argv, PrintStream out, PrintStream err) {
    if (argv.length == 0
        || argv[0].equals("--help")
        || argv[0].equals("-h")
        || argv[0].equals("help")) {
      printCommands(out);
      return argv.length == 0 ? 2 : 0;
    }
    Command command = COMMANDS.get(argv[0]);
    if (command == null) {
      err.println(
          "gpt2: unknown command '"
              + argv[0]
              + "'; commands: "
              + String.join(", ", COMMANDS.keySet()));
      return 2;
    }
    Options options = command.options();
    options.addOption(Option.builder().longOpt("help").desc("show this help").build());
    if (command.usesTensorFlow()) {
      options.addOption(
          Option.builder().longOpt("verbose").desc("show TensorFlow's own log").build());
    }
    try {
      // no abbreviations: a mistyped --max_iter must not quietly mean --max_iters
      DefaultParser parser = DefaultParser.builder().setAllowPartialMatching(false).build();
      Args args = new Args(parser.parse(options, Arrays.copyOfRange(argv, 1, argv.length)));
      if (args.has("help")) {
        printHelp(command, options, out);
        return 0;
      }
      return command.run(args, out, err);
    } catch (ParseException | UsageException e) {
      err.println("gpt2 " + command.name() + ": " + e.getMessage() + hint(e) + " (see --help)");
      return 2;
    } catch (CheckpointException | IllegalArgumentException e) {
      err.println("gpt2 " + command.name() + ": " + e.getMessage());
      return 2;
    } catch (TFResourceExhaustedException | OutOfMemoryError e) {
      err.println(
          "gpt2 "
              + command.name()
              + ": out of memory ("
              + firstLine(e.getMessage())
              + "); lower the batch or block size, or for train use recompute=true, grad_clip=0,"
              + " optimizer=adafactor (--dry-run prints the memory plan); saved checkpoints are"
              + " intact");
      return 1;
    } catch (UncheckedIOException | ClusterException | Download.DownloadException e) {
      err.println("gpt2 " + command.name() + ": " + e.getMessage());
      return 1;
    } catch (Exception e) {
      err.println("gpt2 " + command.name() + ": " + e);
      if (Arrays.asList(argv).contains("--verbose")) { // a bug: its stack, for the report
        e.printStackTrace(err);
      }
      return 1;
    }
  }

  // nanoGPT's flags that have no option here, and what does their job instead
  private static final Map<String, String> NANOGPT_FLAGS =
      Map.of(
          "--compile", "XLA is the xla key (xla=auto compiles the training step)",
          "--device", "the device is chosen by the build (mvn -Pgpu package for CUDA)");

  private static String hint(Exception e) {
    if (e instanceof UnrecognizedOptionException u) {
      String flag = u.getOption().split("=", 2)[0];
      return NANOGPT_FLAGS.containsKey(flag) ? "; " + NANOGPT_FLAGS.get(flag) : "";
    }
    return "";
  }

  private static String firstLine(String message) {
    return message == null ? "no detail" : message.lines().findFirst().orElse("").trim();
  }

  private static void printCommands(PrintStream out) {
    out.println(
        "usage: java -jar target/gpt2.jar COMMAND [options]   (COMMAND --help for its options)");
    out.println();
    int width = COMMANDS.keySet().stream().mapToInt(String::length).max().orElse(0);
    for (Command c : COMMANDS.values()) {
      out.printf("  %-" + width + "s  %s%n", c.name(), c.summary());
    }
  }

  private static void printHelp(Command command, Options options, PrintStream out) {
    HelpFormatter help = new HelpFormatter();
    help.setWidth(100);
    java.io.PrintWriter w = new java.io.PrintWriter(out);
    help.printHelp(
        w,
        100,
        "java -jar target/gpt2.jar " + command.name() + " [options]",
        command.summary(),
        options,
        2,
        2,
        command.helpFooter());
    w.flush();
  }
}
