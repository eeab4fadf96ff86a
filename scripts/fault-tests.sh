#!/usr/bin/env bash
# Tests that stop a shared service (RabbitMQ, PostgreSQL, Redis) must not run
# beside other tests: every other test would see the outage. They are marked
# #[ignore] and run here, one at a time, after the rest. Each restarts what it
# stopped, even when it fails; this script also restarts anything left stopped.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
status=0
cargo test --workspace --no-fail-fast -- --ignored --test-threads=1 || status=$?
bash "$here/ensure-services.sh" || status=1
exit $status
