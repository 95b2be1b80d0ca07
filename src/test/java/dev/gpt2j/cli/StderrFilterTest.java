package dev.gpt2j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StderrFilterTest {
  @Test
  void dropsTfAndProtobufNoiseAndKeepsEverythingElse() throws IOException {
    String in =
        String.join(
            "\n",
            "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
            "I0000 00:00:1795352157.872117    9418 device_compiler.h:188] Compiled cluster using XLA!",
            "[libprotobuf ERROR external/com_google_protobuf/src/google/protobuf/text_format.cc:337] "
                + "Error parsing text-format tensorflow.XlaSerializedCacheEntry: 2:1: Expected identifier, got: 5",
            "[libprotobuf ERROR external/com_google_protobuf/src/google/protobuf/message_lite.cc:"
                + "449] Can't parse message of type \"tensorflow.XlaSerializedCacheEntry\" because"
                + " it is missing required fields: executable",
            "iter 50/500: loss 8.3871",
            "Waiting for the W1 lock",
            "[libprotobuf ERROR somewhere else] kept: not the cache's text-format complaint",
            "gpt2 train: data/x/train.bin: not found",
            "");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StderrFilter.filter(new ByteArrayInputStream(in.getBytes(StandardCharsets.UTF_8)), out);
    assertEquals(
        String.join(
            "\n",
            "iter 50/500: loss 8.3871",
            "Waiting for the W1 lock",
            "[libprotobuf ERROR somewhere else] kept: not the cache's text-format complaint",
            "gpt2 train: data/x/train.bin: not found",
            ""),
        out.toString(StandardCharsets.UTF_8));
  }
}
