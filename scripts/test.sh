#!/usr/bin/env bash
# The whole test suite, from a fresh clone. Installs what a fresh machine lacks
# (valgrind for the zero-cost proof, Debian's prometheus for promtool and the
# real-Prometheus test) and fails loudly when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

# This script installs promtool and prometheus below, so a test that finds
# either missing is a failure here, never a skip (tests/support/tools.rs).
export TELEMETRY_REQUIRE_TOOLS=1

step() { printf '\n==> %s\n' "$*"; }
# Every cargo test run is also written here, to total the counts at the end.
RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT
run_tests() { "$@" 2>&1 | tee -a "$RESULTS"; }
need_apt() {
  # need_apt <command> <debian-package>
  if ! command -v "$1" >/dev/null 2>&1; then
    step "installing $2 (for $1)"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq || { echo "FATAL: apt-get update failed; cannot install $2" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2" >/dev/null \
      || { echo "FATAL: could not install Debian package $2 (needed for $1)" >&2; exit 1; }
    command -v "$1" >/dev/null 2>&1 || { echo "FATAL: $1 still missing after installing $2" >&2; exit 1; }
  fi
}

step "tools"
command -v cargo >/dev/null || { echo "FATAL: cargo not found" >&2; exit 1; }
need_apt valgrind valgrind
# The dashboard's browser test (tests/dashboard) drives chromium headless.
need_apt chromium chromium
need_apt chromedriver chromium-driver
if [ -f scripts/install-prometheus.sh ]; then bash scripts/install-prometheus.sh; else need_apt promtool prometheus; fi
# The alerting test (tests/backends/alerting.rs) runs a real Alertmanager.
if ! command -v prometheus-alertmanager >/dev/null 2>&1 && ! command -v alertmanager >/dev/null 2>&1; then
  need_apt prometheus-alertmanager prometheus-alertmanager
fi
need_apt amtool prometheus-alertmanager
for tool in promtool prometheus amtool; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FATAL: $tool missing after the install step; the tests that need it would fail" >&2; exit 1; }
done
# --- event store (issue 11): the Pushgateway test (tests/store/push.rs) ---
need_apt prometheus-pushgateway prometheus-pushgateway
# --- end event store ---
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt

step "format"
cargo fmt --all -- --check

step "clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "tests (all features: unit, integration, ui, doc)"
run_tests cargo test --workspace --all-features --no-fail-fast

step "runtime with every backend off and with events only"
run_tests cargo test -p telemetry-runtime --no-default-features --features macros
run_tests cargo test -p telemetry-runtime --no-default-features --features macros,events

if [ -f scripts/zero-cost.sh ]; then
  step "zero cost when off (instruction counts under callgrind)"
  bash scripts/zero-cost.sh
fi

step "main job smoke run"
rm -rf target/main-job-export
cargo run -q -p telemetry-examples --release -- --smoke --export target/main-job-export >/dev/null
promtool check rules target/main-job-export/alerts.yml
# --- runtime control (issue 12): the main job from the shipped configuration file ---
step "main job smoke run with --config examples/main-job.toml"
cargo run -q -p telemetry-examples --release -- --smoke --listen 127.0.0.1:0 --config examples/main-job.toml >/dev/null
# --- end runtime control ---
# --- examples of issue 14 (docs/examples.md); each exits non-zero when
# what it shows did not happen ---
cargo build -q -p telemetry-examples --examples
for example in request_log limiter_budget retry_alert custom_events otlp_export; do
  step "example $example"
  cargo run -q -p telemetry-examples --example "$example" -- "target/examples-out/$example" >/dev/null
done
# --- end examples of issue 14 ---

# --- event store (issue 11): the main job writes its run to SQLite and JSONL ---
step "main job event store smoke run (--db, --jsonl)"
rm -f target/main-job-run.sqlite target/main-job-run.sqlite-wal target/main-job-run.sqlite-shm target/main-job-run.jsonl
cargo run -q -p telemetry-examples --release -- --smoke --db target/main-job-run.sqlite --jsonl target/main-job-run.jsonl >/dev/null
test -s target/main-job-run.sqlite || { echo "FATAL: the main job wrote no SQLite event store" >&2; exit 1; }
test -s target/main-job-run.jsonl || { echo "FATAL: the main job wrote no JSONL events" >&2; exit 1; }
python3 - target/main-job-run.sqlite <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
n = c.execute("SELECT count(*) FROM http_events").fetchone()[0]
ended = c.execute("SELECT count(*) FROM runs WHERE ended_unix_nano IS NOT NULL").fetchone()[0]
assert n > 0 and ended == 1, (n, ended)
print(f"event store: {n} http_events rows, run closed")
PY
# --- end event store ---

step "all test steps passed"
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$RESULTS"
