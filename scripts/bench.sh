#!/usr/bin/env bash
# Reproduces every figure of docs/performance.md:
#   1. the zero-cost proof (callgrind instruction counts, scripts/zero-cost.sh);
#   2. the `bench` binary: hot-path cases, /metrics render and memory, a
#      million hosts, full-stack loopback overhead (interleaved, medians);
#   3. GET /metrics through the real server with about 10 000 series, and the
#      full-stack variants in user-space instructions per GET (callgrind,
#      scripts/stack-instructions.sh: free of timing noise);
#   4. the criterion view of the hot-path cases (short run; skip with
#      BENCH_CRITERION=0).
# Writes target/bench-report.md. Usage: bash scripts/bench.sh [--quick]
# Warm run: about 6 minutes; the first build of the bench crate adds several.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$ROOT/target/bench-target}"
REPORT="$ROOT/target/bench-report.md"
mkdir -p "$ROOT/target"

echo "== zero-cost proof" >&2
ZC="$(bash "$ROOT/scripts/zero-cost.sh")"
echo "$ZC"

echo "== building the benchmarks" >&2
cargo build --quiet --release --manifest-path "$ROOT/bench/Cargo.toml" --bin bench --bin metrics_endpoint

echo "== bench (interleaved rounds)" >&2
"$CARGO_TARGET_DIR/release/bench" all --out "$REPORT.tmp" "$@"

{
    cat "$REPORT.tmp"
    echo
    echo "### Disabled path (scripts/zero-cost.sh)"
    echo
    echo "$ZC" | sed -n '/^|/p'
    echo
    echo "$ZC" | sed -n '/instructions per emit/p;/^PASS/p;/^FAIL/p' | sed 's/$/  /'
    echo
    echo "### GET /metrics through the server (axum, loopback), about 10 000 series"
    echo
    "$CARGO_TARGET_DIR/release/metrics_endpoint" 10000 50
    echo
    echo "### Full stack in instructions (scripts/stack-instructions.sh, callgrind)"
    BENCH_TARGET_DIR="$CARGO_TARGET_DIR" bash "$ROOT/scripts/stack-instructions.sh" "${STACK_INSTR_N:-300}"
} >"$REPORT"
rm -f "$REPORT.tmp"

if [ "${BENCH_CRITERION:-1}" = 1 ]; then
    echo "== criterion (short run)" >&2
    # Same profile as the binary, so no second build of the dependencies.
    cargo bench --quiet --profile release --manifest-path "$ROOT/bench/Cargo.toml" --bench record -- \
        --warm-up-time 0.5 --measurement-time 1 --noplot >"$ROOT/target/criterion.log" 2>&1 \
        || { tail -20 "$ROOT/target/criterion.log" >&2; echo "bench: criterion run failed" >&2; exit 1; }
    {
        echo
        echo "### Criterion view of the hot-path cases (same run; [low estimate, median, high estimate])"
        echo
        echo "| case | time |"
        echo "|---|---|"
        grep -E "^[a-z_]+/|^ +time:" "$ROOT/target/criterion.log" | paste - - \
            | sed -E 's/^([^\t]*)\t *time: *(.*)$/| \1 | \2 |/'
    } >>"$REPORT"
    sed -n '/^### Criterion/,$p' "$REPORT"
fi

echo "== report written to $REPORT" >&2
