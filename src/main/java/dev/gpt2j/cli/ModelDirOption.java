package dev.gpt2j.cli;

import java.nio.file.Path;
import org.apache.commons.cli.Option;

/** {@code --model-dir DIR}, shared by the commands that read or write a model directory. */
final class ModelDirOption {
  private ModelDirOption() {}

  /** The option, {@code what} saying what the directory is to this command. */
  static Option option(String what) {
    return Option.builder().longOpt("model-dir").hasArg().argName("DIR").desc(what).build();
  }

  /** The directory given, else {@code fallback}; with a null fallback, a required option. */
  static Path of(Args args, String fallback) {
    return fallback == null
        ? Path.of(args.required("model-dir"))
        : args.path("model-dir", fallback);
  }
}
