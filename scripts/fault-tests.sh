#!/usr/bin/env bash
# Tests that stop or freeze a shared service (RabbitMQ, PostgreSQL, Redis) must not run
# beside other tests: every other test would see the outage. They are marked
# #[ignore] in crates/bench/tests/chaos.rs and run here, one at a time, after
# the rest. (Other ignored tests, such as the worker's throughput measurement,
# are not fault tests and do not run here.) Each restarts what it
# stopped, even when it fails; this script also restarts anything left stopped.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
status=0
cargo test -p inlet-bench --test chaos --no-fail-fast -- --ignored --test-threads=1 || status=$?
bash "$here/ensure-services.sh" || status=1
exit $status
