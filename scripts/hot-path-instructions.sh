#!/usr/bin/env bash
# Hot-path cases in user-space instructions per call (callgrind): the
# noise-free companion of `bench micro`'s nanoseconds. Each case is one
# unmangled, never-inlined function of bench/src/micro.rs; each runs in its
# own process (`bench hot-count SYMBOL N`): set-up and a warm-up outside the
# function uncounted, then N calls counted (`--toggle-collect=SYMBOL`).
# A count includes the function's own call overhead (prologue, return),
# not the caller's loop or its inputs. Deterministic from run to run; compare
# builds by absolute counts.
#
# Usage: bash scripts/hot-path-instructions.sh [N]   (default 100000)
# Env:   HOT_SYMBOLS="sym1 sym2 ..." to run only some cases
# Needs the bench binary (scripts/bench.sh builds it) and valgrind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BENCH_TARGET_DIR:-$ROOT/target/bench-target}/release/bench"
N="${1:-100000}"
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

one() {
    local sym="$1" file="$OUT/cg.$1" got
    got="$(cd "$OUT" && valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect="$sym" --callgrind-out-file="$file" \
        "$BIN" hot-count "$sym" "$N" 2>"$file.log")" \
        || { tail -5 "$file.log" >&2; echo "hot-path-instructions: run of $sym failed" >&2; exit 1; }
    [ "$got" = "$sym"$'\t'"$N" ] || { echo "hot-path-instructions: $sym: binary reported '$got', expected $N calls" >&2; exit 1; }
    local n
    n="$(awk '/^(summary|totals):/ {print $2; exit}' "$file")"
    [ -n "$n" ] && [ "$n" != 0 ] || { echo "hot-path-instructions: nothing counted for $sym (symbol missing?)" >&2; exit 1; }
    awk -v n="$n" -v calls="$N" 'BEGIN { printf "%d\t%.2f\n", n, n / calls }'
}

echo "#### Hot path in user-space instructions per call ($N calls per case, callgrind)"
echo
echo "| case | instructions per call | symbol | total instructions |"
echo "|---|---:|---|---:|"
for c in "${CASES[@]}"; do
    IFS=$'\t' read -r sym what <<<"$c"
    if [ -n "${HOT_SYMBOLS:-}" ] && [[ " $HOT_SYMBOLS " != *" $sym "* ]]; then
        continue
    fi
    res="$(one "$sym")"
    IFS=$'\t' read -r total per <<<"$res"
    echo "| $what | $per | \`$sym\` | $total |"
done
