#!/usr/bin/env bash
# Installs Debian's `prometheus` package (which brings `promtool`) when either
# binary is missing. The backend tests run both: `promtool check metrics` on
# the exposition and a real Prometheus scraping the exporter.
#
# Fails loudly (non-zero exit, message on stderr) when it cannot install.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have prometheus && have promtool; then
    echo "install-prometheus: prometheus and promtool already present ($(command -v prometheus), $(command -v promtool))"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then
        SUDO="sudo"
    else
        echo "install-prometheus: ERROR: prometheus/promtool missing, not root and no sudo; install the Debian package 'prometheus' by hand" >&2
        exit 1
    fi
fi

if ! have apt-get; then
    echo "install-prometheus: ERROR: prometheus/promtool missing and apt-get is not available; install Prometheus (with promtool) and put both on PATH" >&2
    exit 1
fi

echo "install-prometheus: installing the Debian package 'prometheus'..."
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update; then
    echo "install-prometheus: ERROR: apt-get update failed" >&2
    exit 1
fi
# --no-install-recommends: the tests need the server and promtool only, not
# the node exporter or the web assets.
if ! $SUDO apt-get install -y --no-install-recommends prometheus; then
    echo "install-prometheus: ERROR: apt-get install prometheus failed" >&2
    exit 1
fi

# The package starts a system service on some setups; the tests start their
# own instance on a random loopback port, so the service is not needed.
for bin in prometheus promtool; do
    if ! have "$bin"; then
        echo "install-prometheus: ERROR: '$bin' still not on PATH after installing the package" >&2
        exit 1
    fi
done
echo "install-prometheus: ok: $(prometheus --version 2>&1 | head -n1)"
