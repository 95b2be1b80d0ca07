package dev.gpt2j.serve;

import dev.gpt2j.sampling.LogitsSampler;
import dev.gpt2j.tokenizer.Tokenizer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One row of a request as it decodes: its prompt, its own random stream, the tokens drawn so far,
 * its text ({@link StopText}) and how much of it was already sent.
 */
final class Choice {
  /**
   * A token as OpenAI's logprobs report it (logprob and top null when not asked for): its text
   * ({@link #name}), and where it begins in the choice's text, in chars ({@code offset}, for
   * sending) and in characters ({@code textOffset}, as OpenAI counts them).
   */
  record Token(String text, Double logprob, Map<String, Double> top, int offset, int textOffset) {}

  /** The end-of-text token's text in logprobs, as OpenAI writes it. */
  static final String END_OF_TEXT = "<|endoftext|>";

  /** What a step added to a choice: new text, its tokens, and why it ended (null: it goes on). */
  record Delta(int index, String text, List<Token> tokens, String finishReason) {}

  private final Completion request;
  final int index;
  private final int[] prompt;
  private final SplittableRandom rng;
  private final Map<Integer, Integer> counts = new HashMap<>();
  private final StopText text;
  private final List<Token> tokens = new ArrayList<>();
  private int echoed; // chars of echoed prompt before the generated text
  private int echoedCodePoints; // the same in characters
  private int generated;
  private int sentChars;
  private int sentTokens;
  private volatile boolean cancelled;

  Choice(Completion request, int index, int[] prompt, SplittableRandom rng) {
    this.request = request;
    this.index = index;
    this.prompt = prompt;
    this.rng = rng;
    this.text = new StopText(request.body().stops());
  }

  Completion request() {
    return request;
  }

  int[] prompt() {
    return prompt;
  }

  /** The most tokens it is to be given ({@code max_tokens}). */
  int maxTokens() {
    return request.body().maxTokens();
  }

  /**
   * Whether it asks for its prompt back with the prompt's logprobs ({@code echo}, {@code
   * logprobs}).
   */
  boolean echoesLogprobs() {
    return request.body().echo() && request.body().logprobs() != null;
  }

  /** Whether its client has gone: it leaves the batch at the next step. */
  boolean cancelled() {
    return cancelled;
  }

  void cancel() {
    cancelled = true;
  }

  /**
   * The prompt as the choice's first delta ({@code echo}); {@code logits} [T, V] of the prompt's
   * positions when logprobs are asked for, else null.
   */
  Delta echo(Tokenizer tokenizer, float[][] logits) {
    StopText promptText = new StopText(List.of());
    List<Token> echo = new ArrayList<>();
    List<Integer> offsets = new ArrayList<>();
    for (int i = 0; i < prompt.length; i++) {
      offsets.add(promptText.append(tokenizer.decodeBytes(prompt[i])));
    }
    promptText.finish();
    for (int i = 0; i < prompt.length; i++) {
      int offset = offsets.get(i);
      Token t =
          new Token(name(prompt[i], tokenizer), null, null, offset, promptText.codePoints(offset));
      echo.add(i == 0 || logits == null ? t : withLogprobs(t, logits[i - 1], prompt[i], tokenizer));
    }
    echoed = promptText.safeLength();
    echoedCodePoints = promptText.codePoints(echoed);
    return new Delta(index, promptText.substring(0, echoed), echo, null);
  }

  /**
   * Draws the next token from {@code logits} and takes it in; returns it and what can be sent now
   * ({@link Delta#finishReason} non-null: the choice ended).
   */
  Delta take(int token, float[] logits, Tokenizer tokenizer) {
    counts.merge(token, 1, Integer::sum);
    generated++;
    String finish = null;
    if (tokenizer.endOfText().isPresent() && token == tokenizer.endOfText().getAsInt()) {
      finish = "stop"; // in the logprobs like any token, though not in the text
      tokens.add(generatedToken(END_OF_TEXT, text.length(), logits, token, tokenizer));
    } else {
      int offset = text.append(tokenizer.decodeBytes(token));
      tokens.add(generatedToken(name(token, tokenizer), offset, logits, token, tokenizer));
      if (text.stopped()) {
        finish = "stop";
      } else if (generated == request.body().maxTokens()) {
        finish = "length";
      }
    }
    if (finish != null) {
      text.finish();
    }
    return delta(finish);
  }

  /** The end of a choice that asked for no tokens (max_tokens 0): it decodes nothing. */
  Delta endWithoutTokens() {
    text.finish();
    return delta("length");
  }

  /** The next token after {@code logits}, as the request's sampler draws it for this choice. */
  int draw(float[] logits, float[] scratch) {
    return request.body().sampler().next(logits, counts, rng, scratch);
  }

  int generated() {
    return generated;
  }

  private Integer logprobs() {
    return request.body().logprobs();
  }

  // a generated token that begins `offset` chars into the generated text
  private Token generatedToken(
      String name, int offset, float[] logits, int token, Tokenizer tokenizer) {
    Token t =
        new Token(name, null, null, echoed + offset, echoedCodePoints + text.codePoints(offset));
    return logprobs() == null ? t : withLogprobs(t, logits, token, tokenizer);
  }

  /**
   * A token's text as OpenAI's logprobs write it: its UTF-8, or {@code bytes:\xNN...} for a token
   * that holds part of a character (which would otherwise read as U+FFFD, and tokens holding
   * different parts would look the same).
   */
  static String name(int token, Tokenizer tokenizer) {
    byte[] bytes = tokenizer.decodeBytes(token);
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      StringBuilder sb = new StringBuilder("bytes:");
      for (byte b : bytes) {
        sb.append(String.format("\\x%02x", b & 0xff));
      }
      return sb.toString();
    }
  }

  // the text and tokens that became final since the last delta: a token goes with the text it
  // begins in; after a stop, tokens that begin in the stop string are not sent
  private Delta delta(String finish) {
    int safe = text.safeLength();
    String newText = safe > sentChars ? text.substring(sentChars, safe) : "";
    sentChars = Math.max(sentChars, safe);
    List<Token> newTokens = new ArrayList<>();
    while (sentTokens < tokens.size()) {
      int at = tokens.get(sentTokens).offset() - echoed;
      boolean sent = at < sentChars || (finish != null && !text.stopped());
      if (!sent) {
        break;
      }
      newTokens.add(tokens.get(sentTokens++));
    }
    return new Delta(index, newText, newTokens, finish);
  }

  // the token with its log-probability and the top alternatives under the model's distribution
  private Token withLogprobs(Token t, float[] logits, int token, Tokenizer tokenizer) {
    double[] logp = LogitsSampler.logSoftmax(logits);
    Map<String, Double> top = new LinkedHashMap<>();
    if (logprobs() > 0) {
      for (int i : LogitsSampler.topIndices(logits, logprobs())) {
        top.putIfAbsent(name(i, tokenizer), logp[i]);
      }
    }
    return new Token(t.text(), logp[token], top, t.offset(), t.textOffset());
  }
}
