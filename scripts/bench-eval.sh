#!/usr/bin/env bash
# eval's speed at 124M: HellaSwag, LAMBADA and text perplexity, float32 and bfloat16, on a
# 124M-shaped model made by init. The real task files cannot be fetched everywhere, so the rows
# are cut from Tiny Shakespeare in each task's format and at about its length (HellaSwag: a context of
# 20-40 words and four endings of 8-20; LAMBADA: passages of 50-90 words); docs/benchmarks.md
# gives their lengths in tokens beside the speeds.
# Usage: scripts/bench-eval.sh MODEL_DIR TEXT [LIMIT]
set -euo pipefail
model=$1
text=$2
limit=${3:-100}
gpt2=(java -jar target/gpt2.jar)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$text" "$work" <<'PY'
import json, random, sys
words = open(sys.argv[1], encoding="utf-8").read().split()
r = random.Random(1)
def cut(n):
    i = r.randrange(len(words) - n)
    return " ".join(words[i:i + n])
with open(sys.argv[2] + "/hellaswag.jsonl", "w") as f:
    for _ in range(2000):
        row = {"ctx": cut(r.randint(20, 40)), "endings": [cut(r.randint(8, 20)) for _ in range(4)],
               "label": r.randrange(4)}
        f.write(json.dumps(row) + "\n")
with open(sys.argv[2] + "/lambada.jsonl", "w") as f:
    for _ in range(2000):
        f.write(json.dumps({"text": cut(r.randint(50, 90))}) + "\n")
PY
for dtype in float32 bfloat16; do
  for task in hellaswag lambada text; do
    data=$work/$task.jsonl
    [[ $task == text ]] && data=$text
    "${gpt2[@]}" eval --model-dir "$model" --task "$task" --data "$data" --limit "$limit" \
      --dtype "$dtype" --json 2>/dev/null
  done
done
