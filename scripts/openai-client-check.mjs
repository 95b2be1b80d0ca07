// Drives a running `serve` with OpenAI's own client library (the npm package `openai`):
//   node scripts/openai-client-check.mjs BASE_URL MODEL [API_KEY]
// `make check-openai-client` installs the package into a temporary directory and runs this.
// Exits 0 when every check holds, 1 (naming the check) when one does not.
import OpenAI from "openai";

const [baseURL, model, apiKey = "none"] = process.argv.slice(2);
if (!baseURL || !model) {
  console.error("usage: node scripts/openai-client-check.mjs BASE_URL MODEL [API_KEY]");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const prompt = "The quick brown fox";
let failed = 0;

function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok ? "" : ": " + detail}`);
  if (!ok) failed++;
}

// plain, greedy
const plain = await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0 });
check(
  "plain completion",
  plain.object === "text_completion" && plain.choices.length === 1 &&
    typeof plain.choices[0].text === "string" && plain.usage.completion_tokens >= 1 &&
    ["stop", "length"].includes(plain.choices[0].finish_reason),
  JSON.stringify(plain),
);

// streamed: the chunks make the same text
const stream = await client.completions.create({
  model, prompt, max_tokens: 12, temperature: 0, stream: true,
});
let streamed = "";
let chunks = 0;
for await (const chunk of stream) {
  streamed += chunk.choices.map((c) => c.text).join("");
  chunks++;
}
check("streamed chunks concatenate to the plain text", streamed === plain.choices[0].text,
  JSON.stringify({ streamed, plain: plain.choices[0].text, chunks }));

// n > 1 with a seed: as many choices, indexed 0..n-1; the same seed gives the same texts
const params = { model, prompt, max_tokens: 8, n: 3, seed: 7, temperature: 1 };
const many = await client.completions.create(params);
const again = await client.completions.create(params);
check("n = 3", many.choices.map((c) => c.index).sort().join() === "0,1,2",
  JSON.stringify(many.choices));
check("the same seed gives the same choices",
  JSON.stringify(many.choices.map((c) => c.text)) === JSON.stringify(again.choices.map((c) => c.text)),
  JSON.stringify([many.choices, again.choices]));

// stop: the text ends before the first stop string, which is not included
const long = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0 });
const text = long.choices[0].text;
const stopAt = text.length > 4 ? text.slice(3, 6) : null;
if (stopAt) {
  const stopped = await client.completions.create({
    model, prompt, max_tokens: 24, temperature: 0, stop: [stopAt],
  });
  const want = text.slice(0, text.indexOf(stopAt));
  check("stop", stopped.choices[0].text === want && stopped.choices[0].finish_reason === "stop",
    JSON.stringify({ got: stopped.choices[0], want }));
}

// logprobs: the chosen token's logprob and the top 3 alternatives
const lp = await client.completions.create({
  model, prompt, max_tokens: 4, temperature: 0, logprobs: 3,
});
const l = lp.choices[0].logprobs;
check("logprobs",
  l && l.tokens.length === 4 && l.token_logprobs.every((x) => x <= 0) &&
    l.top_logprobs.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 3) &&
    l.text_offset.length === 4,
  JSON.stringify(l));

// an error: an unknown model is a 404 the library raises as NotFoundError
try {
  await client.completions.create({ model: model + "-nope", prompt, max_tokens: 1 });
  check("unknown model raises", false, "no error");
} catch (e) {
  check("unknown model raises NotFoundError",
    e instanceof OpenAI.NotFoundError && e.status === 404, `${e.constructor.name} ${e.status}`);
}

// models
const models = await client.models.list();
check("models list", models.data.some((m) => m.id === model), JSON.stringify(models.data));

console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
