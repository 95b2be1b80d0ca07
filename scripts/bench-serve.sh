#!/usr/bin/env bash
# make bench-serve: bench-sample's batch-1 and batch-8 figures, then a server (--max-batch 8) on
# the same model driven by 1, 8 and 32 concurrent streaming clients asking for 128 tokens each
# after prompts of 8 to 22 tokens, and by 8 clients after prompts of 8 to 64. One after the other,
# never side by side: both want the two cores.
#   scripts/bench-serve.sh MODEL_DIR [DTYPE]
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
model_dir=$1
dtype=${2:-float32}
jar=target/gpt2.jar
lscpu | grep -E '^Model name' || true
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== bench-sample ($dtype)"
java -jar "$jar" bench-sample --model-dir "$model_dir" --dtype "$dtype" | grep -E 'prompt 8,|loaded'
serve_on_free_port bench-serve "$jar" --model-dir "$model_dir" --max-batch 8 --dtype "$dtype"
echo "== bench-serve ($dtype, max batch 8)"
# the clients share the two cores with the server: a JVM that compiles little and collects simply
client="java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar $jar bench-serve --url $url"
$client --clients 1,8,32
$client --clients 8 --prompt-tokens 8-64
