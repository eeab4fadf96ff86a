#!/usr/bin/env bash
# Runs gateway and worker on the local services with a development
# configuration: creates the database, applies migrations (the worker does it
# at start), and stops both on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh

# Development secrets: the test vectors of ../shared/providers.md. Override any
# of them in the environment.
export INLET_META_APP_SECRET="${INLET_META_APP_SECRET:-6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b}"
export INLET_META_VERIFY_TOKEN="${INLET_META_VERIFY_TOKEN:-inlet-dev-verify-token}"
export INLET_OPENPHONE_SIGNING_KEY="${INLET_OPENPHONE_SIGNING_KEY:-aW5sZXQtdGVzdC1vcGVucGhvbmUtc2lnbmluZy1rMQ==}"
export INLET_OPENPHONE_WEBHOOK_SECRET="${INLET_OPENPHONE_WEBHOOK_SECRET:-whsec_aW5sZXQtcXVvLTIwMjYtMDMtMzAtdGVzdC1rZXktMDE=}"
export INLET_BRIDGE_SECRET="${INLET_BRIDGE_SECRET:-inlet-bridge-secret}"
export INLET_STANDARD_SOURCES="${INLET_STANDARD_SOURCES:-demo=whsec_aW5sZXQtc3RhbmRhcmQtd2ViaG9va3Mta2V5LTAwMDE=}"
export INLET_DATABASE_URL="${INLET_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/inlet}"

db="${INLET_DATABASE_URL##*/}"
admin="${INLET_DATABASE_URL%/*}/postgres"
if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    echo "Creating database $db"
    psql "$admin" -qc "CREATE DATABASE \"$db\""
fi

cargo build -q -p inlet-gateway -p inlet-worker
target/debug/inlet-worker migrate
# Each binary gets its own session, so Ctrl-C reaches only this script, which
# forwards exactly one SIGTERM (a second signal would force an immediate exit).
setsid target/debug/inlet-worker &
worker=$!
setsid target/debug/inlet-gateway &
gateway=$!
stop() {
    trap - INT TERM EXIT
    kill -TERM "$gateway" "$worker" 2>/dev/null || true
    wait "$gateway" "$worker" 2>/dev/null || true
}
trap stop INT TERM EXIT
echo "Gateway on http://${INLET_GATEWAY_ADDR:-127.0.0.1:8080}, worker probes on http://${INLET_WORKER_METRICS_ADDR:-127.0.0.1:9091}. Ctrl-C stops both."
wait -n $gateway $worker
