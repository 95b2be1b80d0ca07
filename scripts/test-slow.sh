#!/usr/bin/env bash
# The test suite on a deliberately slowed machine: one busy loop per core beside it, so every
# process the tests start gets about half a core. Whether the suite passes must not depend on how
# fast the machine is; this is how to check it. ROUNDS=N runs the suite N times in a row (default
# 1); the busy loops end with this script, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-1}
hogs=()
stop_hogs() {
  ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null || true
}
trap stop_hogs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for ((core = 0; core < $(nproc); core++)); do
  bash -c 'while :; do :; done' &
  hogs+=($!)
done
echo "test-slow: $(nproc) busy loop(s) beside the suite, $rounds round(s)"
for ((round = 1; round <= rounds; round++)); do
  start=$SECONDS
  mvn -B --no-transfer-progress test
  echo "test-slow: round $round of $rounds passed in $((SECONDS - start)) s"
done
