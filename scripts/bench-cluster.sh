#!/usr/bin/env bash
# Training on loopback: one process with batch 2B, a cluster of that one task (TF's distributed
# runtime, nothing to send), and two tasks (a chief and a worker) with
# batch B each, the same 124M-shaped model, data and seed. Prints the median ms/iter of each, and
# the bytes per step on the loopback interface (from /proc/net/dev: the difference between a short
# and a longer run, so that start-up and the final evaluation cancel out; nothing else should use
# loopback meanwhile).
# Usage: scripts/bench-cluster.sh MODEL_DIR DATA_DIR [B] [BLOCK] [ITERS]
set -euo pipefail
MODEL_DIR=${1:?model directory}
DATA_DIR=${2:?data directory}
B=${3:-2}
BLOCK=${4:-256}
ITERS=${5:-8}
GPT2="java -jar target/gpt2.jar"
OUT=$(mktemp -d)
WORKER=
cleanup() {
  if [ -n "$WORKER" ]; then kill "$WORKER" 2>/dev/null || true; wait "$WORKER" 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# median of the ms/iter figures after the first two steps (compilation, warm-up)
median_ms() { grep -o '[0-9,]* ms/iter' "$1" | tr -d ',' | awk 'NR>2{print $1}' | sort -n |
  awk '{a[NR]=$1} END{if (NR==0) print "n/a"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

train() { # out_dir iters batch [more...]
  local dir=$1 iters=$2 batch=$3; shift 3
  $GPT2 train --init_from="$MODEL_DIR" --data_dir="$DATA_DIR" --out_dir="$OUT/$dir" \
    --batch_size="$batch" --block_size="$BLOCK" --max_iters="$iters" --log_interval=1 \
    --eval_interval=1000000 --eval_iters=1 --sample_interval=0 --warmup_iters=0 \
    --lr_decay_iters="$iters" "$@" > "$OUT/$dir.log"
}

io() { awk '$1 == "lo:" {print $2, $10}' /proc/net/dev; }

train one "$ITERS" $((2 * B))
echo "one process, batch $((2 * B)): $(median_ms "$OUT/one.log") ms/iter (median)"
train alone "$ITERS" $((2 * B)) --cluster="127.0.0.1:$(free_port)"
echo "a cluster of one task, batch $((2 * B)): $(median_ms "$OUT/alone.log") ms/iter (median)"

CLUSTER="127.0.0.1:$(free_port),127.0.0.1:$(free_port)"
$GPT2 worker --cluster "$CLUSTER" --task 1 > "$OUT/worker.log" &
WORKER=$!
until grep -q listening "$OUT/worker.log" 2>/dev/null; do sleep 0.2; done
read -r r0 w0 <<< "$(io)"
train short 3 "$B" --cluster="$CLUSTER"
read -r r1 w1 <<< "$(io)"
train two "$ITERS" "$B" --cluster="$CLUSTER"
read -r r2 w2 <<< "$(io)"
echo "two tasks, batch $B each: $(median_ms "$OUT/two.log") ms/iter (median)"
steps=$((ITERS - 3))
echo "loopback per step: $(( (r2 - r1 - (r1 - r0)) / steps )) bytes (received and sent alike: $(( (w2 - w1 - (w1 - w0)) / steps )))"
