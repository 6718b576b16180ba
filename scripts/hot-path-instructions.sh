#!/usr/bin/env bash
# Hot-path cases in user-space instructions per call (callgrind): the
# noise-free companion of `bench micro`'s nanoseconds. Each case is one
# unmangled, never-inlined function of bench/src/micro.rs; each run is its
# own process (`bench hot-count SYMBOL N`): set-up and a warm-up outside the
# function uncounted, then N calls counted (`--toggle-collect=SYMBOL`).
# A count includes the function's own call overhead (prologue, return), not
# the caller's loop or its inputs.
#
# Every case runs R times. The host table's hash is seeded at random per
# process, so how many of the eight hosts share a probe sequence changes from
# run to run, and with it the cases that intern a host from a `&str` (15
# instructions per extra probe step, 1.875 per call over the eight hosts).
# The figure reported is the minimum over the runs (every host at its first
# slot: about 40 % of runs reach it), with the spread beside it; the other
# cases repeat exactly. Compare builds by these minima.
#
# Usage: bash scripts/hot-path-instructions.sh [N]   (default 100000; a multiple of 8)
# Env:   HOT_RUNS=R (default 11), HOT_SYMBOLS="sym1 sym2 ..." to run only some cases
# Needs the bench binary (scripts/bench.sh builds it) and valgrind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BENCH_TARGET_DIR:-$ROOT/target/bench-target}/release/bench"
N="${1:-100000}"
RUNS="${HOT_RUNS:-11}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
[ -x "$BIN" ] || { echo "hot-path-instructions: $BIN missing; run scripts/bench.sh or build bench/" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "hot-path-instructions: valgrind missing (apt-get install valgrind)" >&2; exit 2; }

# symbol <TAB> what one call does
CASES=(
    $'bench_hot_record_request\tours: record one request (counter + duration + size histograms), host interned once'
    $'bench_hot_intern_record_request\tours: intern the host from a &str + record one request'
    $'bench_hot_counter_increment\tours: one counter increment with a host label, host interned once'
    $'bench_hot_intern_counter_increment\tours: intern the host from a &str + one counter increment'
    $'prometheus_sink_one_request\tPrometheusSink: one request'"'"'s callbacks (rate limit at once + request + response)'
)

# Instructions counted inside $1 over one run of N calls.
one() {
    local sym="$1" file="$OUT/cg.$1" got n
    got="$(cd "$OUT" && valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect="$sym" --callgrind-out-file="$file" \
        "$BIN" hot-count "$sym" "$N" 2>"$file.log")" \
        || { tail -5 "$file.log" >&2; echo "hot-path-instructions: run of $sym failed" >&2; exit 1; }
    [ "$got" = "$sym"$'\t'"$N" ] || { echo "hot-path-instructions: $sym: binary reported '$got', expected $N calls" >&2; exit 1; }
    n="$(awk '/^(summary|totals):/ {print $2; exit}' "$file")"
    [ -n "$n" ] && [ "$n" != 0 ] || { echo "hot-path-instructions: nothing counted for $sym (symbol missing?)" >&2; exit 1; }
    echo "$n"
}

echo "#### Hot path in user-space instructions per call ($N calls per run, $RUNS runs per case, callgrind)"
echo
echo "| case | instructions per call | min-max over the runs | runs at the min | symbol |"
echo "|---|---:|---:|---:|---|"
for c in "${CASES[@]}"; do
    IFS=$'\t' read -r sym what <<<"$c"
    if [ -n "${HOT_SYMBOLS:-}" ] && [[ " $HOT_SYMBOLS " != *" $sym "* ]]; then
        continue
    fi
    totals=""
    for _ in $(seq "$RUNS"); do
        totals+="$(one "$sym") "
    done
    echo "$totals" | tr ' ' '\n' | awk -v what="$what" -v sym="$sym" -v calls="$N" '
        NF { t = $1 + 0; v[++k] = t; if (k == 1 || t < lo) lo = t; if (k == 1 || t > hi) hi = t }
        END {
            for (i = 1; i <= k; i++) at += (v[i] == lo)
            printf "| %s | %.2f | %.2f-%.2f | %d/%d | `%s` |\n", what, lo / calls, lo / calls, hi / calls, at, k, sym
        }'
done
