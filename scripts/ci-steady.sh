#!/usr/bin/env bash
# Steadiness check for the test suite: runs `npm test` RUNS times in a row (default 5) while a CPU hog
# keeps one core busy (HOGS busy loops, default 1), and stops at the first red run. Prints each run's
# wall time and its "vitest: N passed, N failed" line; exit 0 only when every run was green.
#   bash scripts/ci-steady.sh            # 5 runs, one busy core
#   RUNS=3 HOGS=2 bash scripts/ci-steady.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
hogs=${HOGS:-1}

pids=()
stop_hogs() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_hogs EXIT
for _ in $(seq "$hogs"); do
  node -e 'for (;;) {}' &
  pids+=("$!")
done

for i in $(seq "$runs"); do
  start=$(date +%s)
  status=0
  npm test >"/tmp/tollgate-steady-$$-$i.log" 2>&1 || status=$?
  line=$(node -e '
    const r = require("./.vitest-results.json");
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  ' 2>/dev/null || echo "vitest: no report")
  echo "run $i/$runs: $(($(date +%s) - start)) s, $line (log: /tmp/tollgate-steady-$$-$i.log)"
  if [ "$status" != 0 ]; then
    echo "run $i failed: see the log above"
    exit 1
  fi
  rm -f "/tmp/tollgate-steady-$$-$i.log"
done
echo "all $runs runs green under load"
