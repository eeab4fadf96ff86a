# Inlet's front door. `just run` and `just test` are the two commands a newcomer needs.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Run gateway and worker on the local services with a development configuration.
run:
    bash scripts/run-dev.sh

# Everything CI checks: formatting, lints, every test (unit, integration, fault injection), deploy files.
test: fmt-check lint unit-and-integration fault deploy-check

# Format the code.
fmt:
    cargo fmt --all

# Fail if anything is not formatted.
fmt-check:
    cargo fmt --all --check

# Clippy on every target, warnings are errors.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Unit and integration tests, in parallel (each test has its own database and queues).
unit-and-integration:
    cargo test --workspace --no-fail-fast

# Fault-injection tests that stop and start the shared services: run alone, after the rest.
fault:
    bash scripts/fault-tests.sh

# promtool checks and unit tests of the alert rules, and static checks of deploy/.
deploy-check:
    bash deploy/check.sh

# Apply database migrations to INLET_DATABASE_URL.
migrate:
    cargo run -q -p inlet-worker -- migrate

# The benchmark (release build): HTTP floor, broker ceiling, gateway, worker, end to end. Never part of `test`.
# Extra arguments go to `inlet-bench all`, e.g. `just bench --rss-secs 300`.
bench *ARGS:
    cargo build --release -p inlet-bench
    target/release/inlet-bench all {{ARGS}}

# Fault injection at full length (stops RabbitMQ, PostgreSQL and Redis in turn: run it alone).
chaos *ARGS:
    cargo build -p inlet-bench
    status=0; target/debug/inlet-bench chaos {{ARGS}} || status=$?; bash scripts/ensure-services.sh; exit $status

# A short cargo-fuzz run of every target (see fuzz/README.md).
fuzz SECONDS="20":
    bash scripts/fuzz.sh {{SECONDS}}
