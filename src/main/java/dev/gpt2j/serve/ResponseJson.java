package dev.gpt2j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gpt2j.Gpt2Model;
import java.util.List;

/** The JSON objects of OpenAI's completions API: completions, chunks, choices, models, errors. */
final class ResponseJson {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Gpt2Model model;
  private final String modelName;

  ResponseJson(Gpt2Model model, String modelName) {
    this.model = model;
    this.modelName = modelName;
  }

  ObjectNode chunk(Completion c, ArrayNode choices) {
    ObjectNode out = JSON.createObjectNode();
    out.put("id", c.id);
    out.put("object", "text_completion");
    out.put("created", c.created);
    out.put("model", modelName);
    out.set("choices", choices);
    return out;
  }

  static ObjectNode choice(
      Completion c, int index, String text, List<Choice.Token> tokens, String finish) {
    ObjectNode o = JSON.createObjectNode();
    o.put("text", text);
    o.put("index", index);
    if (c.body().logprobs() == null) {
      o.putNull("logprobs");
    } else {
      ObjectNode lp = o.putObject("logprobs");
      ArrayNode texts = lp.putArray("tokens");
      ArrayNode logprobs = lp.putArray("token_logprobs");
      ArrayNode top = lp.putArray("top_logprobs");
      ArrayNode offsets = lp.putArray("text_offset");
      for (Choice.Token t : tokens) {
        texts.add(t.text());
        if (t.logprob() == null) {
          logprobs.addNull();
          top.addNull();
        } else {
          logprobs.add(t.logprob());
          ObjectNode best = top.addObject();
          t.top().forEach(best::put);
        }
        offsets.add(t.textOffset());
      }
    }
    if (finish == null) {
      o.putNull("finish_reason");
    } else {
      o.put("finish_reason", finish);
    }
    return o;
  }

  ObjectNode models() {
    ObjectNode out = JSON.createObjectNode();
    out.put("object", "list");
    out.putArray("data").add(modelCard());
    return out;
  }

  ObjectNode modelCard() {
    ObjectNode m = JSON.createObjectNode();
    m.put("id", modelName);
    m.put("object", "model");
    m.put("created", 0);
    m.put("owned_by", "gpt2-java");
    m.put("n_ctx", model.hparams().nCtx());
    m.put("n_vocab", model.hparams().nVocab());
    m.put("dtype", model.dtype().label);
    return m;
  }

  ObjectNode withUsage(Completion c, ObjectNode out) {
    int generated = c.choices().stream().mapToInt(Choice::generated).sum();
    ObjectNode u = out.putObject("usage");
    u.put("prompt_tokens", c.promptTokens());
    u.put("completion_tokens", generated);
    u.put("total_tokens", c.promptTokens() + generated);
    return out;
  }

  static ObjectNode error(ApiError e) {
    ObjectNode out = JSON.createObjectNode();
    ObjectNode err = out.putObject("error");
    err.put("message", e.getMessage());
    err.put("type", e.type);
    if (e.param == null) {
      err.putNull("param");
    } else {
      err.put("param", e.param);
    }
    if (e.code == null) {
      err.putNull("code");
    } else {
      err.put("code", e.code);
    }
    return out;
  }
}
