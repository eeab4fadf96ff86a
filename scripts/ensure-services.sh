#!/usr/bin/env bash
# Installs PostgreSQL, RabbitMQ and Redis when missing and starts any that is
# stopped (see ../shared/SERVICES.md). Safe to run repeatedly.
set -euo pipefail

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
command -v redis-server >/dev/null || missing+=(redis-server)
# Tests cut live connections with iptables (inlet_testkit::Blackhole).
command -v iptables-legacy >/dev/null || command -v iptables >/dev/null || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

# A fault test's freeze (SIGSTOP), left behind by a run that was killed: a
# frozen service looks up but never answers. SIGCONT is a no-op otherwise.
pkill -CONT -x beam.smp || true
pkill -CONT -x postgres || true
pkill -CONT -x redis-server || true
# Connections a killed test left cut: its rules carry this comment.
ipt=$(command -v iptables-legacy || command -v iptables || true)
if [ -n "$ipt" ]; then
    "$ipt" -w -S OUTPUT 2>/dev/null | grep -- '--comment inlet-test-blackhole' | sed 's/^-A /-D /' |
        while read -r rule; do eval "\"$ipt\" -w $rule" || true; done || true
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "Starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "Starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! rabbitmqctl -q status >/dev/null 2>&1; then
    echo "Starting RabbitMQ"
    rabbitmq-server -detached || true
fi
# The app may be stopped while the node runs (a fault test's stop_app).
rabbitmqctl -q await_startup >/dev/null 2>&1 || rabbitmqctl -q start_app
rabbitmqctl -q await_startup

for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && redis-cli ping >/dev/null 2>&1 && break
    sleep 1
done
pg_isready -h 127.0.0.1 -p 5432
redis-cli ping >/dev/null
