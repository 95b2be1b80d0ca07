package dev.gpt2j.eval;

import java.net.URI;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** The tasks {@code eval} knows, and where each one's data is published. */
public enum EvalTask {
  HELLASWAG(
      "hellaswag",
      new EvalSource(
          "hellaswag_val.jsonl",
          List.of(
              URI.create(
                  "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl")),
          // the file's id in rowanz/hellaswag's git history (the repository publishes no digest)
          Checksum.gitBlob("0f5ee25d72216f12317d5d8a7b92deafa423d81e"),
          null)),
  LAMBADA(
      "lambada",
      new EvalSource(
          "lambada_test.jsonl",
          List.of(
              URI.create(
                  "https://openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl")),
          // the digest EleutherAI's harness checked OpenAI's file against
          Checksum.sha256("4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226"),
          null)),
  // WikiText-2 and WikiText-103 share their test articles, and their raw test files are the same
  // (README, "Evaluation"), so WikiText-2's small archive gives WikiText-103's test split without
  // fetching WikiText-103's large one
  WIKITEXT(
      "wikitext",
      new EvalSource(
          "wiki.test.raw",
          List.of(
              URI.create(
                  "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-raw-v1.zip"),
              URI.create(
                  "https://huggingface.co/datasets/ggml-org/ci/resolve/main/wikitext-2-raw-v1.zip")),
          // Hugging Face's datasets recorded this digest of the archive
          Checksum.sha256("ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11"),
          "wikitext-2-raw/wiki.test.raw")),
  TEXT("text", null);

  /** Where downloaded task data is kept unless told otherwise. */
  public static final Path DATA_DIR = Path.of("data", "eval");

  public final String label;

  /** Where the data is downloaded from; null for {@code text}, which needs {@code --data}. */
  public final EvalSource source;

  EvalTask(String label, EvalSource source) {
    this.label = label;
    this.source = source;
  }

  /** The task called {@code label}; an error naming {@code option} otherwise. */
  public static EvalTask of(String label, String option) {
    return Arrays.stream(values())
        .filter(t -> t.label.equals(label))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    option + ": expected one of " + labels() + ", got '" + label + "'"));
  }

  public static String labels() {
    return Arrays.stream(values()).map(t -> t.label).collect(Collectors.joining(", "));
  }
}
