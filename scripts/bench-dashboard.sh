#!/usr/bin/env bash
# What dashboard clients cost the main job: CPU seconds and RSS of the process
# over SECONDS (default 60) with 0 clients, then with N (default 20) SSE
# clients on /dashboard/events. Usage: bash scripts/bench-dashboard.sh [N] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"; SECS="${2:-60}"
BIN="${CARGO_TARGET_DIR:-target}/release/telemetry-examples"
cargo build -q -p telemetry-examples --release
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" --smoke --listen "127.0.0.1:$port" --hold $((SECS * 2 + 60)) >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
sleep 5
tick=$(getconf CLK_TCK)
cpu() { awk -v t="$tick" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / t }' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
measure() {
  local c0; c0=$(cpu); sleep "$SECS"; local c1; c1=$(cpu)
  echo "$1 clients: $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }') CPU s in ${SECS} s, RSS $(rss) kB"
}
measure 0
for i in $(seq "$N"); do curl -sN "http://127.0.0.1:$port/dashboard/events" >/dev/null & done
sleep 2
measure "$N"
