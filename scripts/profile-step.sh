#!/usr/bin/env bash
# Where a batch-1 decoding step's time goes (issue 28): runs bench-sample on MODEL_DIR and, during
# its batch-1 runs, takes PROFILES system-wide perf profiles of 4 s each. For each it counts the
# samples of the two busiest threads, TF's executor thread (OpenMP's master in our ops) and
# OpenMP's worker: our product loops (the [out, in] loops' biases, residuals and GELU run inside
# them and count with them), attention over the cache, OpenMP (waits and joins), TF, our other
# code (norms; the float32 block's epilogues), and the rest; then the share outside the products
# and attention, on the master alone and on both threads. Run it alone on the machine. Needs perf.
# Usage: scripts/profile-step.sh MODEL_DIR [DTYPE (bfloat16)] [PROFILES (3)]
set -euo pipefail
model=$1
dtype=${2:-bfloat16}
profiles=${3:-3}
command -v perf > /dev/null || { echo "profile-step: perf not found (apt-get install linux-perf)" >&2; exit 1; }
work=$(mktemp -d)
java -jar target/gpt2.jar bench-sample --model-dir "$model" --dtype "$dtype" --runs 40 \
  --new-tokens 256 > "$work/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2> /dev/null; wait $bench 2> /dev/null; rm -rf "$work"' EXIT
until grep -q "loaded" "$work/bench.log"; do
  kill -0 $bench 2> /dev/null || { cat "$work/bench.log" >&2; exit 1; }
  sleep 1
done
sleep 10 # the warm-up run
echo "$(grep loaded "$work/bench.log")"
echo "profile | thread | samples | products | attention | OpenMP | TF | ours, other | rest"
for i in $(seq "$profiles"); do
  perf record -q -o "$work/$i.data" -a -F 999 -- sleep 4 > /dev/null 2>&1
  perf script -i "$work/$i.data" -F tid,ip,sym,dso 2> /dev/null | awk -v p="$i" '
    { t = $1; n[t]++
      if ($0 ~ /gpt2j_kernels/ && $0 ~ /_rows_/) c[t, "products"]++
      else if ($0 ~ /attend/) c[t, "attention"]++
      else if ($0 ~ /libgomp/) c[t, "openmp"]++
      else if ($0 ~ /libtensorflow/) c[t, "tf"]++
      else if ($0 ~ /gpt2j_kernels/) c[t, "ours"]++
      else c[t, "rest"]++ }
    END {
      for (t in n) if (n[t] > n[a]) { b = a; a = t } else if (n[t] > n[b]) b = t
      master = c[a, "tf"] >= c[b, "tf"] ? a : b; worker = master == a ? b : a
      split("products attention openmp tf ours rest", k, " ")
      split(master " " worker, th, " "); split("master worker", name, " ")
      for (i = 1; i <= 2; i++) {
        line = p " | " name[i] " | " n[th[i]]
        for (j = 1; j <= 6; j++) line = line " | " c[th[i], k[j]] + 0
        print line
      }
      inside = c[master, "products"] + c[master, "attention"]
      both = inside + c[worker, "products"] + c[worker, "attention"]
      printf "%s | outside products and attention: master %.1f%%, both threads %.1f%%\n", p,
        100 * (n[master] - inside) / n[master], 100 * (n[master] + n[worker] - both) / (n[master] + n[worker])
    }'
  sleep 3
done
