#!/usr/bin/env bash
# Checks the Prometheus configuration, the alert rules and their unit tests.
# Installs promtool (Debian's prometheus package) when it is missing.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/prometheus"

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found; installing Debian's prometheus package" >&2
    export DEBIAN_FRONTEND=noninteractive
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts_test.yml
