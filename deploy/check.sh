#!/usr/bin/env bash
# Every check of deploy/: promtool on the Prometheus config, rules and rule
# tests (installing promtool if needed), then the static checks of the
# dashboard, compose file, Kubernetes manifests and runbook links.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/check-alerts.sh"
python3 "$here/check_deploy.py"
