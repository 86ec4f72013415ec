"""`fengkong status`, `/status` and the store series of `/metrics` agree with a store whose reviews we know."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from adapters.access.keys import Role
from adapters.cli import cli
from tests.builders import Events
from tests.support.wiring import api_at, key_at, open_engine, outbox_at, runner_at

CLOSED = "2026-10-12"


def _locked_with_plan(e: Events) -> list[dict[str, Any]]:
    return [
        e.opened(),
        e.bill("b1", "600.00", "2026-09-01"),
        e.overdue("b1", 1, "600.00", "2026-09-02T10:00:00"),
        e.plan("P", "2026-09-20T10:00:00", ("2026-10-20", "300.00"), ("2026-11-20", "300.00")),
    ]


def _store_with_reviews(store: str) -> None:
    """Three open reviews on the close of 2026-10-12: one past its deadline, one due the next business day
    (2026-10-13), one due 2026-10-15; and an account without a review."""
    near, later, breached, none = Events("NEAR"), Events("LATER"), Events("BREACHED"), Events("NONE")
    events = [
        *_locked_with_plan(near),
        near.request("R-near", "2026-09-30T10:00:00"),  # deadline 2026-10-13 (National Day)
        *_locked_with_plan(later),
        later.request("R-later", "2026-10-09T10:00:00"),  # deadline 2026-10-15 (10-10 is a make-up workday)
        *_locked_with_plan(breached),
        breached.request("R-breached", "2026-09-21T10:00:00"),  # deadline 2026-09-28
        none.opened(),
        near.day_closed(CLOSED),
    ]
    engine = open_engine(store)
    try:
        results = engine.process([orjson.dumps(e) for e in events], positions={("billing.events", 0): 17})
        assert all(r.outcome.value == "accepted" for r in results), [r.reason for r in results]
    finally:
        engine.close()
    outbox = outbox_at(store, "risk.commands")
    try:
        outbox.advance(5)
    finally:
        outbox.close()
    runner = runner_at(store)
    try:
        runner.catch_up()
    finally:
        runner.close()


@pytest.fixture
def reviewed(store: str) -> str:
    _store_with_reviews(store)
    return store


def _status(store: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["status", "--store", store, "--json", *args])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = orjson.loads(result.stdout)
    return body


def test_status_reports_reviews_near_and_past_their_deadline(reviewed: str) -> None:
    report = _status(reviewed)
    reviews = report["reviews"]
    assert reviews["latest_business_date"] == CLOSED
    assert reviews["open"] == 3 and reviews["deadline_breached"] == 1
    near = reviews["near_deadline"]
    assert near["within_business_days"] == 1 and near["deadline_on_or_before"] == "2026-10-13"
    assert near["count"] == 1
    assert near["reviews"] == [
        {
            "account_id": "NEAR",
            "review_request_id": "R-near",
            "review_requested_on": "2026-09-30",
            "review_deadline": "2026-10-13",
        }
    ]
    wider = _status(reviewed, "--within", "5")["reviews"]["near_deadline"]
    assert [row["account_id"] for row in wider["reviews"]] == ["NEAR", "LATER"]
    assert wider["deadline_on_or_before"] == "2026-10-19"


def test_status_reports_lag_positions_relays_and_the_brake(reviewed: str) -> None:
    report = _status(reviewed)
    head = report["store"]["head"]
    assert head > 0
    assert {p["name"] for p in report["projections"]} >= {"account_status", "decisions"}
    assert all(p["lag_events"] == 0 and p["position"] == head for p in report["projections"])
    assert report["sources"] == [{"source": "billing.events", "next_offsets": {"0": 17}}]
    assert report["relays"] == [{"topic": "risk.commands", "next_notification": 5, "lag_events": head - 4}]
    assert report["brake"]["state"] == "armed" and report["brake"]["held"] == 0
    assert report["brake"]["window_minutes"] == 60 and report["brake"]["tripped_since"] is None
    assert report["stuck_locks"] == {"count": 0, "accounts": []}
    outbox = outbox_at(reviewed, "risk.commands")
    try:
        outbox.advance(head + 1)  # past every recorded command: drained
    finally:
        outbox.close()
    assert _status(reviewed)["relays"] == [{"topic": "risk.commands", "next_notification": head + 1, "lag_events": 0}]


def test_status_before_any_read_model_says_so(store: str) -> None:
    report = _status(store)
    assert report["reviews"] is None
    assert all(p["position"] == 0 for p in report["projections"])
    human = CliRunner().invoke(cli, ["status", "--store", store])
    assert human.exit_code == 0 and "no read models yet" in human.output


@pytest.fixture
def client(reviewed: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    headers = {"Authorization": f"Bearer {key_at(reviewed, Role.ANALYST)}"}
    with TestClient(api_at(reviewed)) as served:
        yield served, headers


def test_the_api_status_and_metrics_say_what_the_cli_says(client: tuple[TestClient, dict[str, str]]) -> None:
    served, headers = client
    body = served.get("/status", params={"within": 5}, headers=headers).json()
    assert body["reviews"]["open"] == 3
    assert [r["account_id"] for r in body["reviews"]["near_deadline"]["reviews"]] == ["NEAR", "LATER"]
    metrics = served.get("/metrics", headers=headers)
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = dict(line.rsplit(" ", 1) for line in metrics.text.splitlines() if line and not line.startswith("#"))
    assert float(samples["fengkong_reviews_open"]) == 3
    assert float(samples["fengkong_reviews_near_deadline"]) == 1
    assert float(samples["fengkong_reviews_deadline_breached"]) == 1
    assert float(samples['fengkong_projection_lag_events{projection="account_status"}']) == 0
    assert float(samples["fengkong_store_head"]) == body["store"]["head"]
    assert float(samples['fengkong_brake_state{fengkong_brake_state="armed"}']) == 1
    assert float(samples["fengkong_held_locks"]) == 0 and float(samples["fengkong_stuck_locks"]) == 0
    assert "NEAR" not in metrics.text and "BREACHED" not in metrics.text  # no account ids in metrics
