#!/usr/bin/env bash
# make bench-serve: bench-sample's batch-1 and batch-8 figures, then a server (--max-batch 8) on
# the same model driven by 1, 8 and 32 concurrent streaming clients asking for 128 tokens each
# after prompts of 8 to 22 tokens, and by 8 clients after prompts of 8 to 64. One after the other,
# never side by side: both want the two cores.
#   scripts/bench-serve.sh MODEL_DIR [DTYPE]
set -euo pipefail
model_dir=$1
dtype=${2:-float32}
jar=target/gpt2.jar
lscpu | grep -E '^Model name' || true
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== bench-sample ($dtype)"
java -jar "$jar" bench-sample --model-dir "$model_dir" --dtype "$dtype" | grep -E 'prompt 8,|loaded'
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
java -jar "$jar" serve --model-dir "$model_dir" --port 0 --max-batch 8 --dtype "$dtype" \
  >"$work/serve.out" 2>"$work/serve.err" &
server=$!
url=
for _ in $(seq 1 600); do
  url=$(grep -o 'http://[^ ]*/v1' "$work/serve.out" || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "bench-serve: the server did not start" >&2; exit 1; }
echo "== bench-serve ($dtype, max batch 8)"
# the clients share the two cores with the server: a JVM that compiles little and collects simply
client="java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar $jar bench-serve --url $url"
$client --clients 1,8,32
$client --clients 8 --prompt-tokens 8-64
