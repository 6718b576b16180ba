#!/usr/bin/env bash
# Full-stack overhead in user-space instructions per loopback GET (callgrind):
# the noise-free companion of `bench stack`'s CPU-time ratios. Each variant
# runs in its own process: set-up and 200 warm-up requests uncounted, then N
# requests counted (`--toggle-collect=bench_stack_counted`). The upstream is
# a child process that valgrind does not trace. Kernel work (the socket
# syscalls) is not in these counts, so the ratios overstate the overhead
# against CPU time, where bare reqwest's denominator includes the kernel.
#
# Usage: bash scripts/stack-instructions.sh [N]   (default 500)
# Env:   BENCH_SUBSCRIBER=fmt|registry (default: both)
# Needs the bench binary (scripts/bench.sh builds it) and valgrind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BENCH_TARGET_DIR:-$ROOT/target/bench-target}/release/bench"
N="${1:-500}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
[ -x "$BIN" ] || { echo "stack-instructions: $BIN missing; run scripts/bench.sh or build bench/" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "stack-instructions: valgrind missing (apt-get install valgrind)" >&2; exit 2; }

KEYS=(
    "bare reqwest"
    "ours: "
    "reqwest-tracing"
    "+ reqwest-retry"
    "autometrics"
    "tracing + reqwest-retry"
    "30 s timeout"
    "tracing with a 30 s timeout"
    "ours with PrometheusSink, spans off"
    "without a sink, spans on"
    "without a sink, spans off"
    "no retry/limiter/breaker"
)

one() {
    local sub="$1" key="$2" file
    file="$OUT/cg.$RANDOM$RANDOM"
    local name
    name="$(cd "$OUT" && BENCH_SUBSCRIBER="$sub" valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=bench_stack_counted --callgrind-out-file="$file" \
        "$BIN" stack-count "$key" "$N" 2>"$file.log")" \
        || { tail -5 "$file.log" >&2; echo "stack-instructions: run of '$key' failed" >&2; exit 1; }
    local n
    n="$(awk '/^(summary|totals):/ {print $2; exit}' "$file")"
    [ -n "$n" ] && [ "$n" != 0 ] || { echo "stack-instructions: nothing counted for '$key'" >&2; exit 1; }
    printf '%s\t%s\n' "$name" "$((n / N))"
}

for sub in ${BENCH_SUBSCRIBER:-fmt registry}; do
    echo
    echo "#### User-space instructions per loopback GET, \`$sub\` subscriber ($N requests per variant, callgrind)"
    echo
    echo "| variant | instructions/request | ratio to bare | overhead |"
    echo "|---|---:|---:|---:|"
    bare=""
    for key in "${KEYS[@]}"; do
        IFS=$'\t' read -r name per < <(one "$sub" "$key")
        [ -n "$bare" ] || bare="$per"
        awk -v name="$name" -v per="$per" -v bare="$bare" 'BEGIN {
            printf "| %s | %d | %.3f | %+.1f %% |\n", name, per, per / bare, (per / bare - 1) * 100 }'
    done
done
