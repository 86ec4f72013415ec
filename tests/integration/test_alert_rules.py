"""The shipped Prometheus alert rules parse, and name only series (and labels) that fengkong exports.

`promtool` is not available here: the expressions are parsed with
promql-parser (a port of Prometheus' own parser), every vector selector is
collected from the syntax tree and held to the series a real scrape of
`/metrics` shows, with the worker's and the relay's labelled series set as
those processes set them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.access.keys import Role
from adapters.monitoring import metrics
from adapters.store.score_monitor import ScoreMonitorStore
from tests.support.wiring import api_at, key_at, tables_at

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
SEVERITIES = {"info", "warning", "page"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Series name -> its label names, from a scrape of the API (this process's series included)."""
    store = str(tmp_path_factory.mktemp("alerts") / "store.db")
    key = key_at(store, Role.METRICS)
    _record_a_monitor_run(store)
    metrics.set_consumer_lag("billing.events", 0, 3)  # as a worker does for a partition it owns
    metrics.RELAY_LAG.labels("risk.commands").set(2)  # as the relay does
    try:
        with TestClient(api_at(store)) as client:
            text = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    finally:
        metrics.forget_partition("billing.events", 0)
        metrics.RELAY_LAG.remove("risk.commands")
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def _record_a_monitor_run(store: str) -> None:
    """What `fengkong score monitor` records (its report, reduced): the scorecard series appear once it ran."""
    month = {"month": "2026-11", "accounts": 10, "score": {"psi": 0.05, "alert": "stable"}}
    month["attributes"] = {"utilisation": {"psi": 0.3, "alert": "act"}}
    db = tables_at(store)
    try:
        monitor = ScoreMonitorStore(db)
        monitor.prepare()
        monitor.record(
            {"scorecard": "pd-demo-v1", "months": [month], "levels": {"watch": 0.1, "act": 0.25}}, "2026-11-30"
        )
    finally:
        db.close()


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def selectors(expression: str) -> list[tuple[str, list[str]]]:
    """(metric name, label names matched) of every vector selector in a PromQL expression."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append((node.name, [m.name for m in node.matchers.matchers]))
        return True

    promql_parser.walk(promql_parser.parse(expression), visit)
    return found


def test_every_rule_is_well_formed(rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        if "for" in rule:
            assert promql_parser.parse_duration(rule["for"]).total_seconds() > 0
        assert selectors(rule["expr"]), rule["alert"]


def test_the_parser_refuses_what_promtool_would(rules: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("max by (topic) (fengkong_consumer_lag > 1")
    assert selectors('rate(a_total{x="1"}[5m]) / on() b') == [("a_total", ["x"]), ("b", [])]


def test_every_rule_names_only_series_and_labels_fengkong_exports(
    rules: list[dict[str, Any]], exported: dict[str, set[str]]
) -> None:
    for rule in rules:
        for name, labels in selectors(rule["expr"]):
            assert name in exported, f"{rule['alert']}: {name} is not exported"
            assert set(labels) <= exported[name], f"{rule['alert']}: {name} has no label {set(labels) - exported[name]}"


def test_the_rules_cover_lag_the_brake_review_deadlines_stuck_locks_and_drift(rules: list[dict[str, Any]]) -> None:
    named = {name for rule in rules for name, _ in selectors(rule["expr"])}
    assert {
        "fengkong_consumer_lag",
        "fengkong_projection_lag_seconds",
        "fengkong_relay_lag",
        "fengkong_brake_state",
        "fengkong_reviews_deadline_breached",
        "fengkong_stuck_locks",
        "fengkong_scorecard_psi_alert",
        "fengkong_scorecard_monitored_timestamp_seconds",
    } <= named


def test_the_sample_configuration_loads_these_rules_and_sends_a_bearer_key() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == [RULES.name]
    api = next(job for job in config["scrape_configs"] if job["job_name"] == "fengkong-api")
    assert api["authorization"]["type"] == "Bearer" and api["metrics_path"] == "/metrics"


def test_exported_series_carry_no_account_label(exported: dict[str, set[str]]) -> None:
    fengkong = {name: labels for name, labels in exported.items() if name.startswith("fengkong_")}
    assert fengkong
    for name, labels in fengkong.items():
        assert not labels & {"account_id", "account", "customer_id", "event_id", "command_id"}, name
