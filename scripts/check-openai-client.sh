#!/usr/bin/env bash
# OpenAI's own client library against `serve`: installs the npm package `openai` into a temporary
# directory, starts a server on MODEL_DIR (default: a small model made with `init` in that
# directory), runs scripts/openai-client-check.mjs, and stops the server.
#   scripts/check-openai-client.sh [MODEL_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
jar="$here/target/gpt2.jar"
command -v node >/dev/null || { echo "check-openai-client: node is not installed" >&2; exit 2; }
source "$here/scripts/lib/serve.sh"
echo "installing the openai npm package into $work"
(cd "$work" && npm install --silent --no-audit --no-fund openai >/dev/null)
echo "openai $(node -p "require('$work/node_modules/openai/package.json').version")"
model_dir=${1:-}
if [ -z "$model_dir" ]; then
  model_dir="$work/model"
  java -jar "$jar" init --model-dir "$model_dir" --n-ctx 128 --n-embd 64 --n-head 2 --n-layer 2 \
    --seed 1 >/dev/null
fi
key="sk-check-$RANDOM"
serve_on_free_port check-openai-client "$jar" --model-dir "$model_dir" --api-key "$key" \
  --model-name gpt2-check
echo "server at $url"
cp "$here/scripts/openai-client-check.mjs" "$work/"
node "$work/openai-client-check.mjs" "$url" gpt2-check "$key"
