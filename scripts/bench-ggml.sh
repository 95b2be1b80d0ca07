#!/usr/bin/env bash
# Our decoding against ggml's GPT-2 example on the same checkpoint, on this machine: builds ggml
# from its source (GGML_SRC, a clone of github.com/ggml-org/ggml; cloned if absent), exports the
# model with `export-ggml` in f32 and f16, then runs ggml's gpt-2-backend (batch 1) and
# gpt-2-batched (-np 8) and our bench-sample, greedy, an 8-token prompt, 128 new tokens, in
# alternating rounds. Usage: scripts/bench-ggml.sh MODEL_DIR [ROUNDS]
set -euo pipefail
model=$1
rounds=${2:-3}
src=${GGML_SRC:-build/ggml}
if [[ ! -d $src ]]; then
  git clone https://github.com/ggml-org/ggml "$src"
fi
echo "ggml $(git -C "$src" rev-parse --short HEAD), ours $(git rev-parse --short HEAD)"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON > /dev/null
cmake --build "$src/build" -j2 --target gpt-2-backend gpt-2-batched > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in f32 f16; do
  java -jar target/gpt2.jar export-ggml --model-dir "$model" --out "$work/$f.bin" --ftype $f
done
prompt="Alan Turing theorized that computers would one"  # 8 tokens
for round in $(seq "$rounds"); do
  for f in f32 f16; do
    single=$("$src/build/bin/gpt-2-backend" -m "$work/$f.bin" -t 2 --top_k 1 -p "$prompt" -n 128 \
      --ignore-eos 2>&1 | sed -n 's/.*predict time = *[0-9.]* ms \/ *\([0-9.]*\) ms per token.*/\1/p')
    out=$("$src/build/bin/gpt-2-batched" -m "$work/$f.bin" -t 2 --top_k 1 -p "$prompt" -n 128 \
      -np 8 2>&1)
    decoded=$(sed -n 's/.*n_decoded = *\([0-9]*\).*/\1/p' <<< "$out")
    batched=$(sed -n 's/.*predict time = *\([0-9.]*\) ms.*/\1/p' <<< "$out")
    awk -v r="$round" -v f="$f" -v s="$single" -v d="$decoded" -v b="$batched" 'BEGIN {
      printf "round %d ggml %s: batch 1 %.1f tokens/s, batch 8 %.1f tokens/s\n", r, f, 1000 / s, d * 1000 / b }'
  done
  java -jar target/gpt2.jar bench-sample --model-dir "$model" --runs 3 2>/dev/null \
    | grep "prompt 8" | sed "s/^/round $round ours /"
done
