#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke run of the benchmark suite for CI: every benchmark once at the smallest heap (64 KB; the
# fixed-size workloads at theirs), with a tiny minimum time, in a few seconds.
# Passes iff the binary exits cleanly and no benchmark reports an error, except a peer (Boehm GC,
# malloc) running out of memory inside the 64 KB budget, which is a result, not a failure.
# Timing never decides: nothing here compares numbers.
#
#   bench/smoke.sh [path/to/uheap_bench]      (default: build/bench/uheap_bench)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-$here/../build/bench/uheap_bench}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Smallest size of every workload: 64 KB, plus wide_graph (fixed 100 000 objects, 32 MB heap)
# and pauses (16 MB: its three collection modes, each checking that no live node was lost).
"$bench" --benchmark_filter='heap:64K(/|$)|^wide_graph/|^pauses/uheap/heap:16M/' --benchmark_min_time=0.001 >"$out" 2>&1 || {
    cat "$out"
    echo "smoke: uheap_bench exited with an error" >&2
    exit 1
}
cat "$out"
ran=$(grep -c -E '^[a-z_]+/(uheap|boehm|malloc)/' "$out" || true)
bad=$(grep 'ERROR OCCURRED' "$out" | grep -v -E "^[a-z_]+/(boehm|malloc)/.*ERROR OCCURRED: 'out of memory" || true)
if [ -n "$bad" ]; then
    echo "smoke: benchmarks failed:" >&2
    echo "$bad" >&2
    exit 1
fi
if [ "$ran" -eq 0 ]; then
    echo "smoke: no benchmark ran" >&2
    exit 1
fi
echo "smoke: $ran benchmarks ran, no live-data errors"
