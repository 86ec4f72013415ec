"""The process series: what a batch adds, which labels exist from the start, where the metrics port binds."""

from __future__ import annotations

import httpx
import orjson
from prometheus_client import REGISTRY

from adapters.monitoring import metrics
from adapters.settings import Settings
from engine.batch import Outcome, Result
from events.commands import command_from_json
from events.inbound import InvalidEvent, parse_event
from tests.builders import Events


def value(name: str, **labels: str) -> float:
    found = REGISTRY.get_sample_value(name, labels)
    assert found is not None, (name, labels)
    return found


def test_every_event_type_outcome_and_command_type_exists_at_zero_before_it_moves() -> None:
    for kind in ("AccountOpened", "OverdueReported", "DayClosed"):
        for outcome in ("accepted", "duplicate", "rejected"):
            assert value("fengkong_events_total", type=kind, outcome=outcome) >= 0
    assert value("fengkong_events_total", type=metrics.INVALID, outcome="rejected") >= 0
    assert value("fengkong_commands_total", type="LockCard") >= 0
    assert value("fengkong_locks_held_total") >= 0


def test_the_brake_held_and_stuck_locks_are_store_series_read_at_scrape_time() -> None:
    """One brake for every worker: its series come from its record in the store, not from a process."""
    assert REGISTRY.get_sample_value("fengkong_held_locks") is None  # no process keeps its own copy
    tripped = metrics.StoreFigures(
        5, [], 0, 0, 0, held_locks=3, brake_tripped=True, brake_locks_in_window=60, brake_bound=60, stuck_locks=2
    )
    text = metrics.exposition(metrics.StoreCollector(tripped)).decode()
    for line in (
        'fengkong_brake_state{fengkong_brake_state="tripped"} 1.0',
        'fengkong_brake_state{fengkong_brake_state="armed"} 0.0',
        "fengkong_held_locks 3.0",
        "fengkong_brake_locks_in_window 60.0",
        "fengkong_brake_bound 60.0",
        "fengkong_stuck_locks 2.0",
    ):
        assert line in text.splitlines(), line
    armed = metrics.exposition(metrics.StoreCollector(metrics.StoreFigures(5, [], 0, 0, 0))).decode()
    assert 'fengkong_brake_state{fengkong_brake_state="armed"} 1.0' in armed.splitlines()
    assert "fengkong_brake_bound" not in armed  # no verdict yet: no bound to show


def test_a_batch_counts_its_events_by_type_and_outcome_and_its_commands_by_type() -> None:
    e = Events("M1")
    opened = parse_event(orjson.dumps(e.opened()))
    bill = parse_event(orjson.dumps(e.bill("b1", "10.00", "2026-09-01")))
    broken = InvalidEvent("type: unknown event type", "x")
    lock = command_from_json(
        {
            "type": "LockCard",
            "command_id": "c1",
            "account_id": "M1",
            "policy_version": "default-v1",
            "rule": "lock.overdue",
            "cause_event_id": "M1-2",
            "occurred_at": "2026-09-02T02:00:00Z",
        }
    )
    before = {
        "opened": value("fengkong_events_total", type="AccountOpened", outcome="accepted"),
        "bill": value("fengkong_events_total", type="BillIssued", outcome="duplicate"),
        "invalid": value("fengkong_events_total", type="invalid", outcome="rejected"),
        "lock": value("fengkong_commands_total", type="LockCard"),
        "batches": value("fengkong_batch_seconds_count"),
    }
    results = [
        Result(0, "M1-1", Outcome.ACCEPTED, commands=[lock]),
        Result(1, "M1-2", Outcome.DUPLICATE),
        Result(2, "x", Outcome.REJECTED, "type: unknown event type"),
    ]
    metrics.observe_batch([opened, bill, broken], results, 0.02)
    assert value("fengkong_events_total", type="AccountOpened", outcome="accepted") == before["opened"] + 1
    assert value("fengkong_events_total", type="BillIssued", outcome="duplicate") == before["bill"] + 1
    assert value("fengkong_events_total", type="invalid", outcome="rejected") == before["invalid"] + 1
    assert value("fengkong_commands_total", type="LockCard") == before["lock"] + 1
    assert value("fengkong_batch_seconds_count") == before["batches"] + 1


def test_the_metrics_port_binds_loopback_by_default_and_serves_the_text_format() -> None:
    settings = Settings()
    assert settings.metrics_port is None and settings.metrics_host == "127.0.0.1"
    assert metrics.serve_metrics(settings.metrics_host, settings.metrics_port) is None  # off unless asked
    server = metrics.serve_metrics(settings.metrics_host, 0)
    assert server is not None
    try:
        assert server.server.server_address[0] == "127.0.0.1"
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert response.status_code == 200 and "fengkong_events_total" in response.text
    finally:
        server.close()


def test_a_partition_given_away_stops_reporting_its_lag() -> None:
    metrics.set_consumer_lag("t-unit", 7, 12)
    assert value("fengkong_consumer_lag", topic="t-unit", partition="7") == 12
    metrics.set_consumer_lag("t-unit", 7, -3)  # a stale end offset never reports negative lag
    assert value("fengkong_consumer_lag", topic="t-unit", partition="7") == 0
    metrics.forget_partition("t-unit", 7)
    metrics.forget_partition("t-unit", 7)  # twice: no error
    assert REGISTRY.get_sample_value("fengkong_consumer_lag", {"topic": "t-unit", "partition": "7"}) is None
