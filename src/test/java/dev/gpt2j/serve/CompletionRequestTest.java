package dev.gpt2j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gpt2j.model.HParams;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A completions body checked strictly, as OpenAI's API checks it: one JSON object and nothing after
 * it, every parameter's type, token ids as exact integers in the vocabulary, and a refusal that
 * names the parameter.
 */
class CompletionRequestTest {
  private static final HParams HP = new HParams(100, 64, 16, 2, 1);

  private static CompletionRequest read(String body) {
    return CompletionRequest.read(body.getBytes(StandardCharsets.UTF_8), Tokenizer.GPT2, HP);
  }

  // the refusal's status and parameter (null: the body as a whole)
  private static void assertRefused(String param, String body) {
    ApiError e = assertThrows(ApiError.class, () -> read(body), body);
    assertEquals(400, e.status, body);
    assertEquals(param, e.param, body + ": " + e.getMessage());
    assertFalse(e.getMessage().isBlank());
  }

  private static String body(String more) {
    return "{\"model\": \"m\", \"prompt\": [1, 2]" + more + "}";
  }

  @Test
  void oneJsonObjectAndNothingAfterIt() {
    assertEquals(2, read(body("")).prompts().get(0).length);
    assertRefused(null, body("") + " xyz");
    assertRefused(null, body("") + " {}");
    assertRefused(null, "[1]");
  }

  // 2^64 read as a long is 0, and 2^64 + 50 is 50: a silent wrong input
  @Test
  void tokenIdsAreExactIntegersInTheVocabulary() {
    assertRefused("prompt", "{\"model\": \"m\", \"prompt\": [18446744073709551616]}");
    assertRefused("prompt", "{\"model\": \"m\", \"prompt\": [18446744073709551666]}");
    assertRefused("prompt", "{\"model\": \"m\", \"prompt\": [4294967346]}"); // 2^32 + 50
    assertRefused("prompt", "{\"model\": \"m\", \"prompt\": [100]}");
    assertRefused("prompt", "{\"model\": \"m\", \"prompt\": [[1, -1]]}");
    assertRefused("prompt", "{\"model\": \"m\", \"prompt\": [1.5]}");
    assertEquals(99, read("{\"model\": \"m\", \"prompt\": [99]}").prompts().get(0)[0]);
  }

  @Test
  void everyParameterHasItsType() {
    assertRefused("logit_bias", body(", \"logit_bias\": \"x\""));
    assertRefused("logit_bias", body(", \"logit_bias\": 5"));
    assertRefused("logit_bias", body(", \"logit_bias\": {\"abc\": 1}"));
    assertRefused("logit_bias", body(", \"logit_bias\": {\"007\": 1}"));
    assertRefused("logit_bias", body(", \"logit_bias\": {\"100\": 1}"));
    assertRefused("logit_bias", body(", \"logit_bias\": {\"5\": 101}"));
    assertRefused("logit_bias", body(", \"logit_bias\": {\"5\": \"up\"}"));
    assertRefused("user", body(", \"user\": 5"));
    assertEquals(1, read(body(", \"user\": \"u-1\"")).n());
    assertRefused("stream_options", body(", \"stream_options\": {\"include_usage\": true}"));
    assertRefused(
        "stream_options",
        body(", \"stream\": true, \"stream_options\": {\"include_usage\": \"yes\"}"));
    assertTrue(
        read(body(", \"stream\": true, \"stream_options\": {\"include_usage\": true}"))
            .includeUsage());
  }

  @Test
  void logitBiasReachesTheSamplerAndCannotBanEveryToken() {
    CompletionRequest r = read(body(", \"logit_bias\": {\"5\": -100, \"7\": 2.5}"));
    assertEquals(Map.of(5, -100f, 7, 2.5f), r.sampler().logitBias());
    StringBuilder all = new StringBuilder();
    for (int id = 0; id < HP.nVocab(); id++) {
      all.append(id == 0 ? "" : ", ").append('"').append(id).append("\": -100");
    }
    assertRefused("logit_bias", body(", \"logit_bias\": {" + all + "}"));
  }
}
