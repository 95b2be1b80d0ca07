// Greedy tokens from llama.cpp for a GGUF file, through node-llama-cpp's prebuilt CPU libraries:
//   node greedy.mjs MODEL.gguf N ID,ID,...
// prints the N token ids llama.cpp generates after the prompt's ids (temperature 0), comma-separated,
// and on stderr the backend it loaded.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, count, prompt] = process.argv.slice(2);
const n = Number(count);
const tokens = prompt.split(",").map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: tokens.length + n, threads: 2});
const sequence = context.getSequence();
const generated = [];
for await (const token of sequence.evaluate(tokens, {temperature: 0})) {
  generated.push(token);
  if (generated.length === n) break;
}
console.log(generated.join(","));
console.error(`llama.cpp ${llama.llamaCppRelease.release}, CPU`);
await context.dispose();
await model.dispose();
await llama.dispose();
