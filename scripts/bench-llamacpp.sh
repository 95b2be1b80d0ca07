#!/usr/bin/env bash
# llama.cpp (node-llama-cpp's prebuilt CPU libraries, `make llamacpp`) against our bench-sample on
# one 124M model, in alternating rounds: batch 1, 8 sequences, and the first token after a
# 512-token prompt. llama.cpp runs f32, f16 and bf16 exports of the model; we run float32 and
# bfloat16. Usage: scripts/bench-llamacpp.sh MODEL_DIR [ROUNDS]
set -euo pipefail
model=${1:?usage: scripts/bench-llamacpp.sh MODEL_DIR [ROUNDS]}
rounds=${2:-2}
jar="java -jar target/gpt2.jar"
peer=scripts/llamacpp
[[ -d $peer/node_modules/node-llama-cpp ]] || { echo "bench-llamacpp: run make llamacpp first" >&2; exit 2; }
for t in f32 f16 bf16; do
  [[ -f $model.$t.gguf ]] || $jar export-gguf --model-dir "$model" --out "$model.$t.gguf" --ftype $t
done
for r in $(seq "$rounds"); do
  echo "== round $r"
  for t in f32 f16 bf16; do
    (cd $peer && node bench.mjs "$(realpath "$model.$t.gguf")" 3)
  done
  $jar bench-sample --model-dir "$model" | grep -E 'new tokens/s'
done
