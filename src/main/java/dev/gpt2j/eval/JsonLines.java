package dev.gpt2j.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gpt2j.util.TextFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A JSON-lines data file, one object per line, read with each line's number so that a bad row is
 * refused as {@code FILE line N: field "F": what was expected}.
 */
final class JsonLines {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One row of the file. */
  record Row(Path file, int line, JsonNode json) {
    EvalDataException error(String field, String problem) {
      return new EvalDataException(
          file + " line " + line + ": field \"" + field + "\": " + problem);
    }

    String string(String field) {
      JsonNode v = json.get(field);
      if (v == null) {
        throw error(field, "missing");
      }
      if (!v.isTextual()) {
        throw error(field, "expected a string, got " + v);
      }
      return v.asText();
    }

    List<String> strings(String field, int count) {
      JsonNode v = json.get(field);
      if (v == null) {
        throw error(field, "missing");
      }
      if (!v.isArray() || v.size() != count) {
        throw error(field, "expected an array of " + count + " strings, got " + v);
      }
      List<String> out = new ArrayList<>();
      for (JsonNode e : v) {
        if (!e.isTextual()) {
          throw error(field, "expected an array of " + count + " strings, got " + v);
        }
        out.add(e.asText());
      }
      return out;
    }

    /** An integer in [0, bound); a string of digits counts, as some copies of HellaSwag have. */
    int index(String field, int bound) {
      JsonNode v = json.get(field);
      if (v == null) {
        throw error(field, "missing");
      }
      int i;
      if (v.canConvertToInt() && v.isIntegralNumber()) {
        i = v.asInt();
      } else if (v.isTextual() && v.asText().matches("\\d{1,9}")) {
        i = Integer.parseInt(v.asText());
      } else {
        throw error(field, "expected an integer in [0, " + bound + "), got " + v);
      }
      if (i < 0 || i >= bound) {
        throw error(field, "expected an integer in [0, " + bound + "), got " + i);
      }
      return i;
    }
  }

  private JsonLines() {}

  // Jackson's own words without the location it sometimes adds to them ("(start marker at
  // [Source: ...; line: 1, column: 30])"): the file and line are named already
  private static String withoutSource(JsonProcessingException e) {
    return e.getOriginalMessage()
        .replaceAll("(?s)\\s*\\((start marker )?at \\[Source:.*", "")
        .strip();
  }

  /**
   * The first {@code limit} non-blank rows of {@code file} (all with limit 0); {@code option} is
   * what the user named it with.
   */
  static List<Row> read(Path file, String option, int limit) {
    String[] lines = TextFiles.readUtf8(file, option).split("\n", -1);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < lines.length && (limit == 0 || rows.size() < limit); i++) {
      if (lines[i].isBlank()) {
        continue;
      }
      JsonNode json;
      try {
        json = JSON.readTree(lines[i]);
      } catch (JsonProcessingException e) {
        throw new EvalDataException(
            file + " line " + (i + 1) + ": not JSON (" + withoutSource(e) + ")");
      }
      if (json == null || !json.isObject()) {
        throw new EvalDataException(file + " line " + (i + 1) + ": expected a JSON object");
      }
      rows.add(new Row(file, i + 1, json));
    }
    if (rows.isEmpty()) {
      throw new EvalDataException(file + ": no rows");
    }
    return rows;
  }
}
