"""Monitoring as code (deploy/): Prometheus configs, rules, rule unit tests, Grafana dashboard.

promtool (Debian package ``prometheus``) checks the configs and rules and runs the rule unit tests;
the dashboard must be valid JSON whose every query parses and names only metrics govmilter exports
(or the recording rules define), so a renamed metric breaks this test rather than a panel.
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
from postfix_harness import require
from prometheus_client import CollectorRegistry

from govmilter.policy import load_policy
from govmilter.server.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "govmilter.json"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

def _exported() -> frozenset[str]:
    """Every sample name the daemon's metrics really export, plus the scrape job's ``up``."""
    registry = CollectorRegistry()
    Metrics(registry).policy_loaded(load_policy(), initial=True)  # as the daemon does at start
    names = {sample.name for family in registry.collect() for sample in family.samples}
    return frozenset(names | {"up"})


EXPORTED = _exported()

_KEYWORDS = frozenset({"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring",
                       "group_left", "group_right", "inf", "nan", "atan2"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"(?<![\w:.$])[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (labels, functions and keywords left out)."""
    text = _GROUPING.sub(" ", _BRACES.sub(" ", _STRING.sub('""', expr)))
    names = set()
    for match in _NAME.finditer(text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group().lower() in _KEYWORDS:
            continue  # a function call, an aggregation or an operator
        names.add(match.group())
    return names


def _rule_groups(path: Path) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(path.read_text())["groups"]
    return groups


def recorded_names() -> set[str]:
    """Every series the recording rules define."""
    path = PROM / "rules" / "govmilter-recording.yml"
    return {r["record"] for g in _rule_groups(path) for r in g["rules"]}


def dashboard_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel, rows included."""
    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield panel["title"], target["expr"]
            yield from walk(panel.get("panels", []))
    yield from walk(dashboard["panels"])


def _promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # the tests that need promtool skip without it, and fail under CI=true
    require(Path(PROMTOOL).exists(), "promtool missing: run scripts/setup.sh (package prometheus)")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def test_metric_names_parser_sees_metrics_not_labels_or_functions() -> None:
    expr = ('sum by (agency, job) (rate(govmilter_recipients_total{flow="a_b", x=~"y|z"}[1d]'
            ' offset 1w)) / on (agency) group_left (rule) (agency:foo:rate1d > 0) or vector(1)'
            ' and histogram_quantile(0.99, rate(govmilter_processing_seconds_bucket[$__range]))')
    assert metric_names(expr) == {"govmilter_recipients_total", "agency:foo:rate1d",
                                  "govmilter_processing_seconds_bucket"}


@pytest.mark.parametrize("config", ["prometheus.yml", "federation.yml"])
def test_prometheus_configs_are_valid(config: str) -> None:
    result = _promtool("check", "config", config, cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_rules_are_valid() -> None:
    files = sorted(str(p) for p in (PROM / "rules").glob("*.yml"))
    result = _promtool("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 14 rules found" in result.stdout  # recording rules
    assert "SUCCESS: 7 rules found" in result.stdout  # alerts


def test_rule_unit_tests_pass() -> None:
    """Every alert firing and not firing, and the compliance ratios (deploy/prometheus/tests)."""
    tests = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert len(tests) >= 3
    result = _promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_every_alert_has_a_unit_test() -> None:
    alerts = {r["alert"] for g in _rule_groups(PROM / "rules" / "govmilter-alerts.yml")
              for r in g["rules"]}
    tested: dict[str, set[bool]] = {}
    for path in (PROM / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                tested.setdefault(check["alertname"], set()).add(bool(check["exp_alerts"]))
    # Each alert is seen both firing and not firing.
    assert {name for name, outcomes in tested.items() if outcomes == {True, False}} == alerts


def test_rules_read_only_exported_or_recorded_metrics() -> None:
    known = EXPORTED | recorded_names()
    for path in (PROM / "rules").glob("*.yml"):
        for group in _rule_groups(path):
            for rule in group["rules"]:
                unknown = metric_names(rule["expr"]) - known
                assert not unknown, f"{path.name}: {rule.get('record') or rule['alert']}: {unknown}"


def test_dashboard_is_provisioning_ready_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard.get("id") is None
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for wanted in ("Compliance ratio", "Non-compliant flows by rule", "Recipient actions",
                   "Processing latency"):
        assert wanted in titles
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, \
                panel["title"]
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/govmilter.yml")
                              .read_text())
    assert provider["providers"][0]["type"] == "file"


def test_dashboard_queries_name_only_exported_or_recorded_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    known = EXPORTED | recorded_names()
    exprs = list(dashboard_exprs(dashboard))
    assert len(exprs) > 10
    for title, expr in exprs:
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr}"
        assert names <= known, f"{title}: unknown metrics {names - known}"


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool parses each query, Grafana's variables replaced by what Grafana would put there."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    grafana_vars = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "7d",
                    "$agency": ".*"}
    rules = []
    for index, (_, expr) in enumerate(dashboard_exprs(dashboard)):
        for var, value in grafana_vars.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{index}:check", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
