#!/usr/bin/env bash
# Side-by-side benchmarks (`make bench`): installs the peer tools if missing
# (scripts/deps.sh bench), then runs every bench/bench_*.py against BUILD/bin. Each prints
# every run, the medians and the ratio netgrind/peer; nothing is asserted.
#
#   bench/run.sh [BUILD [BENCH...]]     BENCH: a file's stem, e.g. bench_seqtest (default: all)
#   BENCH_RUNS=N                        runs per side (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
shift || true

scripts/deps.sh bench
export PYTHONDONTWRITEBYTECODE=1
if (($#)); then
    benches=()
    for b in "$@"; do benches+=("bench/$b.py"); done
else
    benches=(bench/bench_*.py)
fi
status=0
for b in "${benches[@]}"; do
    [[ -f "$b" ]] || { echo "bench: no $b" >&2; status=1; continue; }
    # Bounded: a benchmark that hangs is ended (its with-blocks kill what it started).
    timeout -k 10 1800 python3 "$b" "$BUILD" || { echo "bench: $b exited with $?" >&2; status=1; }
done
exit "$status"
