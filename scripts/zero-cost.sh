#!/usr/bin/env bash
# Zero-cost proof (issue 2 item 6, issue 5): counts, with callgrind, the
# instructions of an #[instrumented_adapter] struct that calls its emitters
# and of the same struct without the attribute, doing the same work.
#
#   1. runtime with no backend  -> the counts MUST be equal (exit 1 if not);
#   2. runtime with `events`, no sink installed -> reports the cost per emit
#      (one load and one branch; exit 1 if it exceeds MAX_PER_EMIT, which
#      would mean an event is built although nobody listens).
#
# Usage: bash scripts/zero-cost.sh [iterations]   (default 1000; < 1 min warm)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CRATE="$ROOT/zero-cost"
TARGET="$CRATE/target"
ITER="${1:-1000}"
MAX_PER_EMIT="${MAX_PER_EMIT:-8}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if ! command -v valgrind >/dev/null 2>&1; then
    echo "zero-cost: valgrind not found; installing it with apt-get" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq valgrind; }; then
        echo "zero-cost: FAILED to install valgrind; install it (apt-get install valgrind) and re-run" >&2
        exit 2
    fi
fi

# Build one configuration and keep its binary under a stable name.
build() {
    local name="$1"; shift
    cargo build --quiet --release --manifest-path "$CRATE/Cargo.toml" --target-dir "$TARGET" "$@"
    cp "$TARGET/release/zero-cost" "$OUT/zero-cost-$name"
}

# Instructions executed inside zc_{annotated,plain}_work for one run of the
# given function only (the binary calls exactly one of them per run).
count() {
    local bin="$1" which="$2" file="$OUT/callgrind.$1.$2"
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect='zc_*_work' \
        --callgrind-out-file="$file" "$OUT/zero-cost-$bin" "$which" "$ITER" >/dev/null 2>"$file.log" \
        || { cat "$file.log" >&2; echo "zero-cost: valgrind run failed" >&2; exit 2; }
    local n
    n="$(awk '/^(summary|totals):/ {print $2; exit}' "$file")"
    if [ -z "$n" ] || [ "$n" = 0 ]; then
        echo "zero-cost: no instructions collected for $which ($bin): the probe is broken" >&2
        exit 2
    fi
    echo "$n"
}

# Same address = the compiler found the two functions' code identical and
# merged them.
merged() {
    local a p
    a="$(nm "$OUT/zero-cost-$1" | awk '$3 == "zc_annotated_work" {print $1}')"
    p="$(nm "$OUT/zero-cost-$1" | awk '$3 == "zc_plain_work" {print $1}')"
    if [ -n "$a" ] && [ "$a" = "$p" ]; then echo "yes (same address)"; else echo "no"; fi
}

build off
build events --features events
"$OUT/zero-cost-off" both "$ITER" >/dev/null
"$OUT/zero-cost-events" both "$ITER" >/dev/null

off_a="$(count off annotated)"
off_p="$(count off plain)"
ev_a="$(count events annotated)"
ev_p="$(count events plain)"
emits=$((ITER * 2))
per_emit="$(awk -v a="$ev_a" -v p="$ev_p" -v e="$emits" 'BEGIN {printf "%.2f", (a - p) / e}')"

echo
echo "Instructions (callgrind Ir) over $ITER iterations, 2 emits each (x.emit().parsed(..) and emit!(.., cache_miss(..)))"
echo
printf '| %-36s | %12s | %12s | %10s | %-18s |\n' "runtime build" "annotated" "un-annotated" "diff" "functions merged"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------" "--------------" "--------------" "------------" "--------------------"
printf '| %-36s | %12s | %12s | %10s | %-18s |\n' "no backend (macros only)" "$off_a" "$off_p" "$((off_a - off_p))" "$(merged off)"
printf '| %-36s | %12s | %12s | %10s | %-18s |\n' "events compiled in, no sink" "$ev_a" "$ev_p" "$((ev_a - ev_p))" "$(merged events)"
echo
echo "events compiled in, no sink: $per_emit instructions per emit"

status=0
if [ "$off_a" != "$off_p" ]; then
    echo "FAIL: with no backend the annotated adapter executes $((off_a - off_p)) more instructions than the plain struct" >&2
    status=1
else
    echo "PASS: identical instruction counts with the backends compiled out"
fi
if awk -v x="$per_emit" -v m="$MAX_PER_EMIT" 'BEGIN {exit !(x > m)}'; then
    echo "FAIL: $per_emit instructions per emit with no sink (limit $MAX_PER_EMIT): something is built before the interest check" >&2
    status=1
fi
exit $status
