// llama.cpp's decoding speed on a GGUF file, as `bench-sample` measures ours:
//   node bench.mjs MODEL.gguf [RUNS]
// batch 1 and 8 sequences, each generating 128 greedy tokens after an 8-token prompt, and the time
// to the first token after a 512-token prompt; each the median of RUNS runs after one to warm up.
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, runsText] = process.argv.slice(2);
const runs = Number(runsText ?? 3);
const NEW = 128;
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const prompt = (n) => Array.from({length: n}, (_, i) => 464 + ((i * 7919) % 40000));

async function generate(sequence, tokens, count) {
  const start = performance.now();
  let first = 0;
  let n = 0;
  for await (const token of sequence.evaluate(tokens, {temperature: 0})) {
    if (n === 0) first = performance.now() - start;
    if (++n === count) break;
  }
  return {seconds: (performance.now() - start) / 1000, first: first / 1000};
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(sequences, promptLength, count) {
  const context = await model.createContext({
    contextSize: sequences * (promptLength + count + 8),
    sequences,
    threads: 2,
  });
  const all = Array.from({length: sequences}, () => context.getSequence());
  const results = [];
  for (let r = 0; r <= runs; r++) {
    await Promise.all(all.map((s) => s.clearHistory()));
    const start = performance.now();
    const each = await Promise.all(all.map((s) => generate(s, prompt(promptLength), count)));
    const seconds = (performance.now() - start) / 1000;
    if (r > 0) results.push({rate: (sequences * count) / seconds, first: median(each.map((e) => e.first))});
  }
  await context.dispose();
  return {rate: median(results.map((x) => x.rate)), first: median(results.map((x) => x.first))};
}

const one = await measure(1, 8, NEW);
const eight = await measure(8, 8, NEW);
const prefill = await measure(1, 512, 1);
// the CPU backend ggml chose for this processor, as the process has it mapped
const backend =
  readFileSync("/proc/self/maps", "utf8").match(/libggml-cpu-?([\w-]*)\.so/)?.[1] || "generic";
console.log(
  `llama.cpp ${llama.llamaCppRelease.release}, CPU backend ${backend} (${modelPath}): batch 1 ${one.rate.toFixed(1)} tok/s,` +
    ` 8 sequences ${eight.rate.toFixed(1)} tok/s, first token after 512 ${prefill.first.toFixed(3)} s`,
);
await model.dispose();
await llama.dispose();
