package dev.gpt2j.cli;

import dev.gpt2j.Gpt2Model;
import dev.gpt2j.memory.MemoryPlan;
import dev.gpt2j.model.DType;
import dev.gpt2j.serve.CompletionServer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code serve}: OpenAI's completions API with continuous batching. The first SIGTERM stops taking
 * requests and lets those in flight finish (up to --drain-seconds), then exits 0, or 1 when it cut
 * some (each cut stream ends in an error event); a second SIGTERM or Ctrl-C stops after the step
 * being decoded.
 */
final class ServeCommand implements Command {
  static final int DEFAULT_PORT = 8000;
  static final int DEFAULT_MAX_BATCH = 8;
  static final int DEFAULT_MAX_QUEUE = 64;
  static final int DEFAULT_DRAIN_SECONDS = 30;
  static final int DEFAULT_READ_TIMEOUT = 30;
  private static final int REQUESTS_CUT = 1;

  @Override
  public String name() {
    return "serve";
  }

  @Override
  public String summary() {
    return "serve OpenAI's completions API (/v1/completions), batching requests continuously";
  }

  @Override
  public boolean hotJavaLoops() {
    return true;
  }

  @Override
  public Options options() {
    return new Options()
        .addOption(ModelDirOption.option("OpenAI-layout model directory to serve"))
        .addOption(opt("host", "H", "address to bind (default 127.0.0.1: this machine only)"))
        .addOption(opt("port", "P", "port (default " + DEFAULT_PORT + "; 0 = any free one)"))
        .addOption(
            opt("max-batch", "B", "rows decoded together (default " + DEFAULT_MAX_BATCH + ")"))
        .addOption(
            opt(
                "max-queue",
                "Q",
                "rows waiting for a slot before requests get 429 (default "
                    + DEFAULT_MAX_QUEUE
                    + ")"))
        .addOption(opt("api-key", "KEY", "require 'Authorization: Bearer KEY' on every request"))
        .addOption(
            opt(
                "read-timeout",
                "S",
                "how long a client may take to send a request's headers and body; a slower one is"
                    + " disconnected (default "
                    + DEFAULT_READ_TIMEOUT
                    + ")"))
        .addOption(
            opt("model-name", "NAME", "the model's name in the API (default: the directory's)"))
        .addOption(
            opt(
                "drain-seconds",
                "S",
                "on SIGTERM, how long rows in flight may take to finish; those still decoding then"
                    + " end in an error, and the exit code is 1 (default "
                    + DEFAULT_DRAIN_SECONDS
                    + ")"))
        .addOption(ModelOpening.dryRunOption("loading the model"))
        .addOption(DTypeOption.DECODING.option());
  }

  private static Option opt(String name, String arg, String desc) {
    return Option.builder().longOpt(name).hasArg().argName(arg).desc(desc).build();
  }

  @Override
  public int run(Args args, PrintStream out, PrintStream err) throws Exception {
    Path dir = ModelDirOption.of(args, null);
    int port = args.integer("port", DEFAULT_PORT);
    if (port < 0 || port > 65535) {
      throw new UsageException("--port must be in [0, 65535], got " + port);
    }
    String name = args.string("model-name", dir.toAbsolutePath().normalize().getFileName() + "");
    // the JDK server's own limit on receiving a request (it closes the connection), read once, when
    // its first server starts: this process's
    System.setProperty(
        "sun.net.httpserver.maxReqTime",
        String.valueOf(args.positive("read-timeout", DEFAULT_READ_TIMEOUT)));
    CompletionServer.Options options =
        new CompletionServer.Options(
            args.string("host", "127.0.0.1"),
            port,
            args.positive("max-batch", DEFAULT_MAX_BATCH),
            args.positive("max-queue", DEFAULT_MAX_QUEUE),
            args.string("api-key", null),
            name);
    int drainSeconds = args.integer("drain-seconds", DEFAULT_DRAIN_SECONDS);
    if (drainSeconds < 0) {
      throw new UsageException(
          "--drain-seconds must be at least 0 (0: cut what is in flight), got " + drainSeconds);
    }
    ModelOpening opening = ModelOpening.of(args, dir, DTypeOption.DECODING);
    DType dtype = opening.dtype();
    MemoryPlan plan = MemoryPlan.serving(opening.hparams(), dtype, options.maxBatch());
    return opening.run(plan, out, err, model -> serve(model, options, drainSeconds, out, err));
  }

  private static int serve(
      Gpt2Model model,
      CompletionServer.Options options,
      int drainSeconds,
      PrintStream out,
      PrintStream err)
      throws Exception {
    try (StopOnSignal stop =
        new StopOnSignal(
            err, "finishing the requests in flight (at most " + drainSeconds + " s)", null)) {
      CompletionServer server = CompletionServer.start(model, options, err);
      out.println(
          "serving "
              + options.modelName()
              + " on http://"
              + options.host()
              + ":"
              + server.port()
              + "/v1 (max batch "
              + options.maxBatch()
              + ", "
              + model.dtype().label
              + ")");
      stop.await();
      AtomicInteger cut = new AtomicInteger();
      Thread drain =
          new Thread(
              () -> {
                try {
                  cut.set(server.drain(drainSeconds));
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      drain.start();
      while (drain.isAlive() && !stop.again()) {
        drain.join(100);
      }
      if (!drain.isAlive()) {
        if (cut.get() == 0) {
          err.println("drained; stopping");
          return 0;
        }
        err.println(
            "drained; "
                + cut.get()
                + " request(s) cut when the drain time ran out (--drain-seconds); stopping");
        return REQUESTS_CUT;
      }
      server.close();
      err.println("stopped");
      return stop.exitCode();
    }
  }
}
