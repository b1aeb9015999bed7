"""deploy/: the Prometheus configuration, alert rules and Grafana dashboard match the code.

Two kinds of checks. promtool (Debian package `prometheus`, installed by .ci/run) validates
the configuration and the rules and runs the rules' unit tests (deploy/prometheus/alerts_test.yml);
without promtool those tests FAIL, they are not skipped. Pure-Python checks need nothing but
PyYAML: every rule's fields, every metric name of every expression (rules and dashboard) is one
of infra/metrics.py, every process of compose.yaml is scraped, docs/OPERATIONS.md covers every alert.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
ALERTS = PROMETHEUS / "alerts.yml"
ALERTS_TEST = PROMETHEUS / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "reporting-dashboard.json"
MONITORING_COMPOSE = ROOT / "deploy" / "compose.monitoring.yaml"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"

SEVERITIES = {"critical", "warning"}
ANNOTATIONS = {"summary", "description", "action", "runbook"}
# Alerts the unit tests must show firing after their `for:` and not firing on healthy series.
ALERTS_UNIT_TESTED = {"ReportingRelayLagSeconds", "ReportingRelayLagEvents", "ReportingCheckpointStale",
                      "ReportingHTTPErrorRate", "ReportingProcessStuck"}  # fmt: skip

# ---------------------------------------------------------------------------------------
# PromQL, well enough to find the metric names of an expression
# ---------------------------------------------------------------------------------------

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "inf", "nan", "atan2"}  # fmt: skip
STANDARD_PREFIXES = ("node_", "process_")
STANDARD_NAMES = {"up"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers used bare or before `{` or `[`,
    not function or aggregation calls, keywords, label names, strings, durations or variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    text = re.sub(r"\{[^{}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", "[]", text)  # ranges, subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)  # label lists
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.groups()
        if call is None and name.lower() not in KEYWORDS:
            names.add(name)
    return names


def test_the_promql_reader_finds_names_and_only_names() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (service, le) (rate(reporting_x_seconds_bucket{route!~".*[.]csv"}[5m])))'
        " > 0.25 and on (job) up == 1 or vector(0) unless count(node_y_bytes offset 1h) without (instance)"
        " / ignoring(pool) group_left bare_total + 1e3 * sum(rate(z_total[$__rate_interval]))"
    )
    assert metric_names(expr) == {"reporting_x_seconds_bucket", "up", "node_y_bytes", "bare_total", "z_total"}
    assert metric_names('max(a{l="sum(b)"}) by (c)') == {"a"}


def allowed(name: str) -> bool:
    return name in metrics.series_names() or name in STANDARD_NAMES or name.startswith(STANDARD_PREFIXES)


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in rules()]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expression) of every target."""
    return [(p["title"], t["expr"]) for p in dashboard_panels() for t in p.get("targets", [])]


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression as plain PromQL (its variables given values), for promtool."""
    return expr.replace("$__rate_interval", "5m").replace("$service", ".*").replace("$projection", ".*")


def compose_services() -> dict[str, dict[str, Any]]:
    """The long-running processes of compose.yaml built from this repository (not `migrate`)."""
    services = load_yaml(ROOT / "compose.yaml")["services"]
    return {
        name: svc
        for name, svc in services.items()
        if svc.get("image") == "reporting:latest" and svc["command"] != ["reporting", "migrate"]
    }


def scrape_targets() -> dict[str, tuple[str, int]]:
    """host -> (job, port) of every static target."""
    targets: dict[str, tuple[str, int]] = {}
    for job in load_yaml(CONFIG)["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                if job["job_name"] != "rebuild":
                    assert host not in targets, f"{host} is scraped twice"
                    targets[host] = (job["job_name"], int(port))
    return targets


# ---------------------------------------------------------------------------------------
# promtool
# ---------------------------------------------------------------------------------------


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing, so deploy/prometheus cannot be checked: install the Debian package "
            "`prometheus` (apt-get install -y prometheus), as .ci/run does"
        )
    return subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_the_configuration() -> None:
    done = promtool("check", "config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_rules() -> None:
    done = promtool("check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_the_unit_tests_of_the_alerts_pass() -> None:
    done = promtool("test", "rules", ALERTS_TEST.name, cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_fails_a_rule_that_fires_too_early(tmp_path: Path) -> None:
    """The unit tests can fail: with the relay alert's `for:` shortened they do."""
    text = ALERTS.read_text(encoding="utf-8")
    relay = text.index("alert: ReportingRelayLagSeconds")
    shortened = text[:relay] + text[relay:].replace("for: 5m", "for: 1m", 1)
    (tmp_path / "alerts.yml").write_text(shortened, encoding="utf-8")
    shutil.copy(ALERTS_TEST, tmp_path / ALERTS_TEST.name)
    done = promtool("test", "rules", ALERTS_TEST.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "ReportingRelayLagSeconds" in done.stdout + done.stderr


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    recorded = [
        {"record": f"dashboard:expr{i}", "expr": grafana_to_promql(expr)}
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}), encoding="utf-8")
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------
# Pure Python
# ---------------------------------------------------------------------------------------


def test_every_rule_has_for_severity_and_annotations() -> None:
    assert len(set(alert_names())) == len(alert_names()), "an alert name is used twice"
    for rule in rules():
        name = rule.get("alert")
        assert re.fullmatch(r"Reporting[A-Z][A-Za-z0-9]+", str(name)), rule
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: no `for:` duration"
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity"
        annotations = rule.get("annotations", {})
        assert set(annotations) >= ANNOTATIONS, f"{name}: annotations {sorted(annotations)}"
        for key in ANNOTATIONS:
            assert str(annotations[key]).strip(), f"{name}: empty {key}"
        assert annotations["runbook"] == f"docs/OPERATIONS.md#{name.lower()}", f"{name}: runbook"


def test_the_alerts_the_operators_rely_on_exist() -> None:
    expressions = {rule["alert"]: rule["expr"] for rule in rules()}
    uses = {name: metric_names(expr) for name, expr in expressions.items()}
    needed = {
        "reporting_relay_lag_events",
        "reporting_relay_lag_seconds",
        "reporting_projector_lag_events",
        "reporting_projector_lag_seconds",
        "reporting_http_requests_total",
        "reporting_http_request_duration_seconds_bucket",
        "reporting_checkpoint_age_seconds",
        "node_filesystem_avail_bytes",
        "up",
        "reporting_db_pool_connections_in_use",
    }
    assert needed <= set().union(*uses.values())
    assert "by (job, instance, projection)" in expressions["ReportingProjectorLagSeconds"]  # per projection
    assert "3 * reporting_checkpoint_interval_seconds" in expressions["ReportingCheckpointStale"]


def test_every_metric_in_the_rules_is_catalogued() -> None:
    for rule in rules():
        unknown = {name for name in metric_names(rule["expr"]) if not allowed(name)}
        assert not unknown, f"{rule['alert']}: {sorted(unknown)} not defined in infra/metrics.py"


def test_every_metric_in_the_dashboard_is_catalogued() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 30
    for title, expr in exprs:
        unknown = {name for name in metric_names(expr) if not allowed(name)}
        assert not unknown, f"panel {title!r}: {sorted(unknown)} not defined in infra/metrics.py"
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert found, query
            assert allowed(found.group(1)), query


def test_the_dashboard_shows_every_catalogued_metric() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_exprs()))
    families = {
        name
        for name in metrics.metric_types()
        if not ({name, f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"} & used)
    }
    assert not families, f"no panel shows {sorted(families)}"


def test_the_dashboard_is_a_grafana_model_with_a_datasource_variable() -> None:
    model = dashboard()
    assert model["uid"], "no uid"
    assert model["title"], "no title"
    assert model["schemaVersion"] >= 36
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard_panels():
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"panel {panel['title']!r} overlaps another"
        cells |= area
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]


def test_every_process_of_compose_is_scraped_on_its_port() -> None:
    targets = scrape_targets()
    services = compose_services()
    for name, service in services.items():
        assert name in targets, f"compose service {name} is not scraped by deploy/prometheus/prometheus.yml"
        env = service.get("environment", {})
        http_port = env.get(f"{name.upper()}_PORT")
        expected = int(http_port) if http_port else metrics.METRICS_PORTS[name]
        assert targets[name][1] == expected, f"{name}: scraped on {targets[name][1]}, serves on {expected}"
        if not http_port:
            assert int(env.get("METRICS_PORT", 0)) == expected, f"{name}: compose.yaml does not set METRICS_PORT"
            assert env.get("METRICS_HOST") == "0.0.0.0", f"{name}: not reachable from Prometheus"  # noqa: S104
    non_http = set(metrics.METRICS_PORTS) - {"rebuild"}
    assert non_http <= set(services), f"METRICS_PORTS names no compose service: {non_http - set(services)}"
    assert len(set(metrics.METRICS_PORTS.values())) == len(metrics.METRICS_PORTS), "two processes share a port"
    assert {"node-exporter", "localhost"} <= set(targets)


def test_the_configuration_loads_the_alert_rules() -> None:
    config = load_yaml(CONFIG)
    assert [(PROMETHEUS / f).resolve() for f in config["rule_files"]] == [ALERTS.resolve()]
    assert load_yaml(ALERTS_TEST)["rule_files"] == ["alerts.yml"]


def test_the_unit_tests_cover_the_main_alerts_both_ways() -> None:
    outcomes: dict[str, set[bool]] = {}
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case["alert_rule_test"]:
            outcomes.setdefault(check["alertname"], set()).add(bool(check.get("exp_alerts")))
    assert set(outcomes) <= set(alert_names())
    for name in ALERTS_UNIT_TESTED:
        assert outcomes.get(name) == {True, False}, f"{name}: needs a firing and a silent case"


def test_the_monitoring_compose_file_mounts_what_exists() -> None:
    overlay = load_yaml(MONITORING_COMPOSE)
    base = load_yaml(ROOT / "compose.yaml")
    for name, service in overlay["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in overlay.get("volumes", {}) or source in base["volumes"], f"{name}: volume {source}"
        assert name not in base["services"], f"{name}: compose.yaml itself sets the processes' metrics ports"
    assert "node-exporter" in overlay["services"]
    assert any(v.startswith("pgdata:/var/lib/postgresql") for v in overlay["services"]["node-exporter"]["volumes"])


# ---------------------------------------------------------------------------------------
# docs/OPERATIONS.md
# ---------------------------------------------------------------------------------------


def operations_sections() -> dict[str, str]:
    """### heading -> its text, up to the next heading."""
    text = OPERATIONS.read_text(encoding="utf-8")
    parts = re.split(r"^(#{2,3}) (.+)$", text, flags=re.MULTILINE)
    return {parts[i + 1].strip(): parts[i + 2] for i in range(1, len(parts) - 2, 3)}


def test_the_operations_guide_explains_every_alert() -> None:
    sections = operations_sections()
    for rule in rules():
        name = rule["alert"]
        assert name in sections, f"docs/OPERATIONS.md has no section `### {name}` (the runbook link)"
        body = sections[name]
        assert f"**{rule['labels']['severity']}**" in body, f"{name}: severity not stated"
        assert f"for {rule['for']}" in body, f"{name}: its `for:` ({rule['for']}) not stated"
        assert len(body.split()) >= 30, f"{name}: say what it means and what to do"


def test_the_operations_guide_has_the_sections_an_operator_needs() -> None:
    sections = operations_sections()
    for heading in (
        "Start",
        "Stop",
        "Scale",
        "Where metrics are exposed",
        "Alerts",
        "Backup and restore",
        "Rotating the checkpoint key",
        "Rotating tokens",
        "Rebuilding a read model",
    ):
        assert heading in sections, f"docs/OPERATIONS.md: no section {heading!r}"
    text = OPERATIONS.read_text(encoding="utf-8")
    assert "TODO" not in text
    for service, port in metrics.METRICS_PORTS.items():
        assert f"| `{service}` | {port} |" in text, f"the port table lacks {service} {port}"
    for name, kind in metrics.metric_types().items():
        shown = f"{name}_total" if kind == "counter" else name
        assert f"| `{shown}` | {kind} |" in text, f"docs/OPERATIONS.md does not list the metric {shown}"


def test_alertmanager_and_grafana_provisioning_fit_together() -> None:
    alertmanager = load_yaml(ROOT / "deploy" / "alertmanager" / "alertmanager.yml")
    receivers = {r["name"] for r in alertmanager["receivers"]}
    routes = [alertmanager["route"], *alertmanager["route"].get("routes", [])]
    assert all(route.get("receiver", alertmanager["route"]["receiver"]) in receivers for route in routes)
    for rule in alertmanager.get("inhibit_rules", []):
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            found = re.fullmatch(r'alertname(=~|=)"(.+)"', matcher)
            assert found, matcher
            pattern = found.group(2) if found.group(1) == "=~" else re.escape(found.group(2))
            assert any(re.fullmatch(pattern, name) for name in alert_names()), f"{matcher} matches no alert"
    assert "alertmanager:9093" in str(load_yaml(CONFIG)["alerting"])
    grafana = ROOT / "deploy" / "grafana" / "provisioning"
    (source,) = load_yaml(grafana / "datasources" / "prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    (provider,) = load_yaml(grafana / "dashboards" / "reporting.yml")["providers"]
    mounts = load_yaml(MONITORING_COMPOSE)["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/{DASHBOARD.name}:{provider['options']['path']}/{DASHBOARD.name}:ro" in mounts
