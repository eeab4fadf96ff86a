#!/usr/bin/env python3
"""Static checks of everything under deploy/ and of the runbook links.

Run from anywhere: python3 deploy/check_deploy.py. Needs PyYAML; uses promtool
(deploy/check-alerts.sh installs it) and kubectl when present, and says so when
it skips them. Ends with an "N passed, N failed" line and exits non-zero on any
failure.

What it catches that the tools alone do not: a metric name that no binary
exports (a typo makes an alert or a panel silently empty), a runbook_url whose
anchor is not a heading of docs/operations.md, an alert without a firing and a
quiet unit test, manifests that refer to a name nothing defines, the INLET_CONFIG
file (which holds secrets) mounted from anything but a Secret, and database
pools that could open more connections than PostgreSQL allows.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RUNBOOK = "https://github.com/inlet/inlet/blob/main/docs/operations.md#"

# The metrics the binaries export (names fixed in the design), and `up`.
COUNTERS_AND_GAUGES = {
    "inlet_gateway_requests_total", "inlet_gateway_signature_format_total",
    "inlet_gateway_dedup_available", "inlet_gateway_broker_connected",
    "inlet_worker_events_total", "inlet_worker_retries_total",
    "inlet_worker_dead_letters_total", "inlet_queue_messages",
    "inlet_worker_db_pool_in_use", "inlet_worker_db_pool_waiting",
    "inlet_worker_broker_connected", "inlet_worker_starting",
    "inlet_delivery_attempts_total", "inlet_delivery_endpoints_disabled_total",
    "inlet_delivery_fanout_dropped_total", "up",
}
HISTOGRAMS = {
    "inlet_gateway_request_duration_seconds", "inlet_gateway_publish_duration_seconds",
    "inlet_gateway_events_per_publish",
    "inlet_worker_handler_duration_seconds", "inlet_worker_end_to_end_seconds",
    "inlet_delivery_duration_seconds",
}
KNOWN = COUNTERS_AND_GAUGES | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}
JOBS = {"inlet-gateway", "inlet-worker"}

failures = []
passed = 0


def check(name):
    """Runs the decorated function as one named check; an AssertionError fails it."""
    def run(fn):
        global passed
        try:
            fn()
            passed += 1
            print(f"ok    {name}")
        except AssertionError as e:
            failures.append(name)
            print(f"FAIL  {name}: {e}")
        return fn
    return run


def load_yaml_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def metric_names(expr):
    """Metric names used in a PromQL expression (label values and functions aside)."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # drop label values
    return set(re.findall(r"\b(inlet_[a-z0-9_]+|up)\b(?!\s*\()", expr))


def github_anchors(markdown):
    """Anchors GitHub gives the headings of a Markdown file."""
    anchors, seen = set(), {}
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


ALERTS = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
RULES = [r for g in ALERTS["groups"] for r in g["rules"] if "alert" in r]
TESTS = yaml.safe_load((DEPLOY / "prometheus/alerts_test.yml").read_text())
DASHBOARD_PATH = DEPLOY / "grafana/dashboards/inlet.json"


@check("every YAML file parses")
def _():
    files = sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml"))
    assert files, "no YAML files found"
    for f in files:
        try:
            load_yaml_all(f)
        except yaml.YAMLError as e:
            raise AssertionError(f"{f.relative_to(ROOT)}: {e}") from None


@check("the dashboard is valid JSON with unique panel ids inside a 24-column grid")
def _():
    d = json.loads(DASHBOARD_PATH.read_text())
    assert d.get("schemaVersion", 0) >= 36, "schemaVersion too old"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {ids}"
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, f"panel {p['title']!r} overflows the grid"
        if p["type"] != "row":
            assert p.get("targets"), f"panel {p['title']!r} has no query"
            assert p["datasource"]["uid"] == "${datasource}", f"panel {p['title']!r} datasource"


def dashboard_exprs():
    d = json.loads(DASHBOARD_PATH.read_text())
    return [(p["title"], t["expr"]) for p in d["panels"] for t in p.get("targets", [])]


@check("alerts and dashboard use only metrics the binaries export")
def _():
    used = [(r["alert"], r["expr"]) for r in RULES] + dashboard_exprs()
    for where, expr in used:
        unknown = metric_names(expr) - KNOWN
        assert not unknown, f"{where}: unknown metric(s) {sorted(unknown)}"
        for job in re.findall(r'job="([^"]+)"', expr):
            assert job in JOBS, f"{where}: unknown job {job}"


@check("every alert has a severity, a summary, a description and a runbook anchor that exists")
def _():
    anchors = github_anchors((ROOT / "docs/operations.md").read_text())
    for r in RULES:
        name = r["alert"]
        assert r.get("labels", {}).get("severity") in ("critical", "warning"), f"{name}: severity"
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert ann.get(key), f"{name}: annotations.{key} missing"
        url = ann["runbook_url"]
        assert url.startswith(RUNBOOK), f"{name}: runbook_url {url}"
        anchor = url[len(RUNBOOK):]
        assert anchor in anchors, f"{name}: docs/operations.md has no heading for #{anchor}"


@check("every alert has a unit test where it fires and one where it does not")
def _():
    fires, quiet = set(), set()
    for t in TESTS["tests"]:
        for a in t.get("alert_rule_test", []):
            (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
    for name in sorted({r["alert"] for r in RULES}):
        assert name in fires, f"{name}: no test where it fires"
        assert name in quiet, f"{name}: no test where it stays quiet"


@check("dashboard queries are valid PromQL (promtool)")
def _():
    promtool = shutil.which("promtool")
    if not promtool:
        print("      skipped: promtool not installed (deploy/check-alerts.sh installs it)")
        return
    subst = {"$__rate_interval": "1m", "$__range": "1h", "$provider": ".*"}
    rules = []
    for i, (_, expr) in enumerate(dashboard_exprs()):
        for k, v in subst.items():
            expr = expr.replace(k, v)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        f.flush()
        out = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@check("compose: services, bind mounts, dependencies and healthchecks fit together")
def _():
    services = COMPOSE["services"]
    for s in ("rabbitmq", "postgres", "redis", "gateway", "worker", "prometheus", "grafana"):
        assert s in services, f"service {s} missing"
    assert services["worker"]["deploy"]["replicas"] >= 2, "worker replicas"
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                assert (DEPLOY / src).exists(), f"{name}: bind mount {src} does not exist"
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
    for name in ("gateway", "worker", "migrate"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).exists(), f"{name}: Dockerfile"


K8S = DEPLOY / "k8s"


def k8s_objects():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objs = []
    for res in kust["resources"]:
        assert (K8S / res).exists(), f"kustomization lists missing {res}"
        objs += load_yaml_all(K8S / res)
    return objs + load_yaml_all(K8S / "secrets.example.yaml")


@check("k8s: references resolve (config, secrets, ports, selectors, scale targets)")
def _():
    objs = k8s_objects()
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    workloads = list(by_kind.get("Deployment", {}).values()) + list(by_kind.get("Job", {}).values())
    for w in workloads:
        name, spec = w["metadata"]["name"], w["spec"]["template"]["spec"]
        labels = w["spec"]["template"]["metadata"]["labels"]
        for k, v in w["spec"].get("selector", {}).get("matchLabels", {}).items():
            assert labels.get(k) == v, f"{name}: selector {k}={v} does not match its pods"
        assert spec["securityContext"]["runAsUser"] == 10001, f"{name}: runAsUser"
        for c in spec["containers"]:
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef") or src.get("secretRef")
                kind = "ConfigMap" if "configMapRef" in src else "Secret"
                assert ref["name"] in by_kind.get(kind, {}), f"{name}: {kind} {ref['name']} undefined"
            ports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                if probe in c:
                    port = c[probe]["httpGet"]["port"]
                    assert port in ports, f"{name}: {probe} port {port} is not a container port"
        for v in spec.get("volumes", []):
            if "configMap" in v:
                assert v["configMap"]["name"] in by_kind["ConfigMap"], f"{name}: volume {v['name']}"
            if "secret" in v:
                assert v["secret"]["secretName"] in by_kind.get("Secret", {}), f"{name}: volume {v['name']}"
    for svc in by_kind.get("Service", {}).values():
        assert any(all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                       for k, v in svc["spec"]["selector"].items())
                   for d in by_kind["Deployment"].values()), f"Service {svc['metadata']['name']} selects no pods"
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in by_kind["Deployment"], "HPA target"
    for so in by_kind.get("ScaledObject", {}).values():
        assert so["spec"]["scaleTargetRef"]["name"] in by_kind["Deployment"], "ScaledObject target"
        for t in so["spec"]["triggers"]:
            assert t["type"] == "rabbitmq" and t["metadata"]["queueName"] == "inlet.events", "trigger"
            assert t["metadata"]["mode"] == "QueueLength", "trigger mode"
            assert t["authenticationRef"]["name"] in by_kind["TriggerAuthentication"], "trigger auth"
    for ta in by_kind.get("TriggerAuthentication", {}).values():
        for ref in ta["spec"]["secretTargetRef"]:
            secret = by_kind["Secret"].get(ref["name"])
            assert secret and ref["key"] in secret["stringData"], f"TriggerAuthentication key {ref['key']}"


def by_kind_and_name(objs):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    return by_kind


def container_env(container, config_maps):
    """A container's variables as the kubelet sets them: envFrom ConfigMaps,
    then `env`, which wins. Secrets aside (their values are placeholders)."""
    env = {}
    for src in container.get("envFrom") or []:
        if "configMapRef" in src:
            env.update(config_maps.get(src["configMapRef"]["name"], {}).get("data") or {})
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = e["value"]
    return env


@check("k8s: the INLET_CONFIG file (per-line secrets) is mounted from a Secret, never a ConfigMap")
def _():
    by_kind = by_kind_and_name(k8s_objects())
    config_maps = by_kind.get("ConfigMap", {})
    workloads = list(by_kind.get("Deployment", {}).values()) + list(by_kind.get("Job", {}).values())
    assert workloads, "no workloads"
    for w in workloads:
        name, spec = w["metadata"]["name"], w["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            path = container_env(c, config_maps).get("INLET_CONFIG")
            assert path, f"{name}/{c['name']}: INLET_CONFIG not set"
            mounts = [m for m in c.get("volumeMounts", [])
                      if path.startswith(m["mountPath"].rstrip("/") + "/")]
            assert mounts, f"{name}/{c['name']}: nothing mounted at {path}"
            v = volumes[mounts[0]["name"]]
            assert "configMap" not in v, f"{name}: {path} comes from ConfigMap {v['configMap']['name']}"
            assert "secret" in v, f"{name}: volume {v['name']} for {path} is not a Secret"
            key = path[len(mounts[0]["mountPath"].rstrip("/")) + 1:]
            secret = by_kind.get("Secret", {}).get(v["secret"]["secretName"])
            assert secret and key in secret.get("stringData", {}), \
                f"{name}: Secret {v['secret']['secretName']} (secrets.example.yaml) has no key {key}"
    for cm in config_maps.values():
        assert not any(k.endswith(".toml") for k in cm.get("data", {})), \
            f"ConfigMap {cm['metadata']['name']} holds a settings file: it belongs in a Secret"


# PostgreSQL's default max_connections, and what the pools may take of it: the
# rest is for the migration Job, superuser_reserved_connections (3), psql and
# `inlet-worker dead-letters` sessions.
PG_MAX_CONNECTIONS = 100
POOL_BUDGET = 90


def default_pool_size():
    """INLET_DATABASE_POOL_SIZE's default, read from the code that sets it."""
    src = (ROOT / "crates/domain/src/settings.rs").read_text()
    m = re.search(r"database_pool_size:\s*(\d+)", src)
    assert m, "crates/domain/src/settings.rs: no database_pool_size default found"
    return int(m.group(1))


def max_surge(deployment, replicas):
    """Extra pods a rolling update may start at `replicas` (default 25 %, rounded up)."""
    surge = (deployment["spec"].get("strategy", {}).get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return -(-replicas * int(surge[:-1]) // 100)
    return int(surge)


@check(f"k8s: database pools at max replicas (+ rollout surge) stay within {POOL_BUDGET} of {PG_MAX_CONNECTIONS} connections")
def _():
    by_kind = by_kind_and_name(k8s_objects())
    config_maps = by_kind.get("ConfigMap", {})
    most = {}
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        most[hpa["spec"]["scaleTargetRef"]["name"]] = hpa["spec"]["maxReplicas"]
    for so in by_kind.get("ScaledObject", {}).values():
        # KEDA's default maximum is 100: an unset one fails the budget, as it should.
        most[so["spec"]["scaleTargetRef"]["name"]] = so["spec"].get("maxReplicaCount", 100)
    default = default_pool_size()
    total, parts = 0, []
    for name, d in by_kind.get("Deployment", {}).items():
        replicas = most.get(name, d["spec"].get("replicas", 1))
        pods = replicas + max_surge(d, replicas)
        pool = sum(int(container_env(c, config_maps).get("INLET_DATABASE_POOL_SIZE", default))
                   for c in d["spec"]["template"]["spec"]["containers"])
        total += pods * pool
        parts.append(f"{name} {pods} × {pool}")
    print(f"      {' + '.join(parts)} = {total} connections")
    assert total <= POOL_BUDGET, f"{' + '.join(parts)} = {total} > {POOL_BUDGET} (docs/scaling.md)"
    assert total < PG_MAX_CONNECTIONS


@check("k8s: kustomize builds (kubectl kustomize)")
def _():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("      skipped: kubectl not installed")
        return
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(out.stdout) if d]
    assert kinds.count("Deployment") == 2, f"built kinds: {kinds}"


@check("in-page links of the operations docs point at headings that exist")
def _():
    for doc in ("docs/operations.md", "docs/scaling.md"):
        text = (ROOT / doc).read_text()
        anchors = github_anchors(text)
        for link in re.findall(r"\]\(#([^)]+)\)", text):
            assert link in anchors, f"{doc}: no heading for #{link}"


@check("the docs this directory points to exist")
def _():
    for doc in ("docs/operations.md", "docs/scaling.md"):
        assert (ROOT / doc).is_file(), f"{doc} missing"
    ops = (ROOT / "docs/operations.md").read_text()
    for needle in ("just bench", "docs/benchmarks.md", "dead-letters replay"):
        assert needle in ops, f"docs/operations.md does not mention {needle!r}"


print(f"deploy: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
