"""Operators at work, from the CLI and the HTTP API (SQLite and PostgreSQL): every action an event with its actor.

Held locks listed, released and dropped (a double click acts once, a key of
too low a role is refused); an unlock review decided; the locks of a window
undone (a dry run first); the clock corrected by an admin; then audit
replays it all and names who did what, and the brake's ledger is proven.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from adapters import bootstrap
from adapters.access.keys import Principal, Role
from adapters.cli import cli
from adapters.operators.service import ActionRefused, Operators
from adapters.settings import Settings
from tests.builders import Events
from tests.support.bursts import Burst, burst_events, portfolio
from tests.support.wiring import api_at, key_at, open_engine, runner_at, tables_at

BURST = Burst(accounts=2600, overdue=60, shape="uniform", span_minutes=30, seed=7)  # bound 52: 8 held


@dataclass
class Store:
    url: str
    keys: dict[Role, str]


@pytest.fixture
def burst_store(store: str) -> Store:
    engine = open_engine(store)
    list(engine.ingest(portfolio(BURST.accounts), batch_size=2000))
    list(engine.ingest(burst_events(BURST)[0], batch_size=500))
    engine.close()
    return Store(store, {role: key_at(store, role) for role in (Role.ANALYST, Role.OPERATOR, Role.ADMIN)})


def fengkong(store: Store, *args: str, role: Role | None = Role.OPERATOR, code: int = 0) -> Any:
    env = {"FENGKONG_KEY": store.keys[role]} if role else {}
    result = CliRunner().invoke(cli, [*args, "--store", store.url], env=env)
    assert result.exit_code == code, result.output
    return orjson.loads(result.stdout) if "--json" in args and code in (0, 1) else result.output


def test_held_locks_from_the_cli(burst_store: Store) -> None:
    listed = fengkong(burst_store, "held", "list", "--json", role=None)
    assert len(listed) == BURST.overdue - BURST.bound
    first, second, third = (lock["hold_id"] for lock in listed[:3])
    assert "operator" in fengkong(burst_store, "held", "release", first, role=Role.ANALYST, code=3)
    released = fengkong(burst_store, "held", "release", first, second, "--reason", "billing confirmed", "--json")
    assert [o["outcome"] for o in released] == ["applied", "applied"]
    assert released[0]["commands"] == listed[0]["commands"]  # what was held, with the same command ids
    again = fengkong(burst_store, "held", "release", first, "--json")  # a double click
    assert again[0]["outcome"] == "duplicate"
    dropped = fengkong(burst_store, "held", "drop", third, "--reason", "billing fault", "--json")
    assert dropped[0]["outcome"] == "applied" and dropped[0]["commands"] == []
    refused = fengkong(burst_store, "held", "release", third, "--json", code=1)
    assert refused[0]["outcome"] == "refused"
    rest = fengkong(burst_store, "held", "release", "--all", "--rule", "lock.overdue", "--json")
    assert len(rest) == len(listed) - 3 and {o["outcome"] for o in rest} == {"applied"}
    status = fengkong(burst_store, "status", "--json", role=None)
    assert status["brake"]["state"] == "armed" and status["brake"]["held"] == 0
    assert status["brake"]["locks_in_window"] == BURST.bound  # released locks count in no window
    proof = fengkong(burst_store, "audit", "--all", "--json", role=None)
    assert proof["identical"] == proof["accounts"] and proof["brake"]["identical"]
    actions = proof["operator_actions"]
    assert len(actions) == len(listed) and {a["actor"] for a in actions} == {"tests-operator-2"}
    assert {a["action"] for a in actions} == {"HoldReleased", "HoldDropped"}


@pytest.fixture
def client(burst_store: Store) -> Iterator[TestClient]:
    with TestClient(api_at(burst_store.url)) as served:
        yield served


def _as(store: Store, role: Role, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.keys[role]}", **more}


def test_held_locks_from_the_api_act_once_per_idempotency_key(burst_store: Store, client: TestClient) -> None:
    held = client.get("/held", headers=_as(burst_store, Role.ANALYST)).json()
    assert len(held) == BURST.overdue - BURST.bound
    hold = held[0]["hold_id"]
    path = f"/held/{hold}/release"
    assert client.post(path, json={}, headers=_as(burst_store, Role.ANALYST)).status_code == 403
    click = _as(burst_store, Role.OPERATOR, **{"Idempotency-Key": "click-1"})
    first = client.post(path, json={"reason": "checked"}, headers=click)
    assert first.status_code == 200 and first.json()["outcome"] == "applied"
    assert [c["command_id"] for c in first.json()["commands"]] == [c["command_id"] for c in held[0]["commands"]]
    second = client.post(path, json={"reason": "checked"}, headers=click)
    assert second.status_code == 200 and second.json()["outcome"] == "duplicate"
    gone = client.post(f"/held/{held[1]['hold_id']}/drop", json={"reason": "fault"}, headers=click)
    assert gone.status_code == 200 and gone.json()["commands"] == []
    assert client.post(path, json={}, headers=_as(burst_store, Role.OPERATOR)).status_code in (200, 409)
    brake = client.get("/brake", headers=_as(burst_store, Role.ANALYST)).json()
    assert brake["state"] == "tripped" and brake["held"] == len(held) - 2
    metrics = client.get("/metrics", headers=_as(burst_store, Role.ANALYST)).text
    assert f"fengkong_held_locks {float(len(held) - 2)}" in metrics.splitlines()
    assert 'fengkong_brake_state{fengkong_brake_state="tripped"} 1.0' in metrics.splitlines()


def review_events() -> list[bytes]:
    e = Events("REV1")
    events = [
        e.opened(),
        e.bill("b1", "500.00", "2026-09-01"),
        e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00"),
        e.plan("pl", "2026-09-03T10:00:00", ("2026-10-01", "250.00"), ("2026-11-01", "250.00")),
        e.request("R1", "2026-09-04T10:00:00"),
        e.day_closed("2026-09-04"),
    ]
    return [orjson.dumps(event) for event in events]


def under_review(store: str) -> str:
    engine = open_engine(store)
    list(engine.ingest(review_events()))
    engine.close()
    runner = runner_at(store)
    runner.catch_up()
    runner.close()
    return "REV1"


def test_an_operator_decides_a_review_and_the_policy_takes_it_as_unlock_reviewed(store: str) -> None:
    account = under_review(store)
    keys = Store(store, {role: key_at(store, role) for role in (Role.ANALYST, Role.OPERATOR, Role.ADMIN)})
    listed = fengkong(keys, "reviews", "list", "--json", role=None)
    assert listed[0]["account_id"] == account and listed[0]["deadline"] == "2026-09-11"
    assert listed[0]["business_days_left"] == 5
    decided = fengkong(keys, "reviews", "approve", account, "--note", "plan is credible", "--json")
    assert decided[0]["outcome"] == "applied"
    assert [(c["type"], c["rule"]) for c in decided[0]["commands"]] == [("UnlockCard", "review.approved")]
    # The same request again, naming its (now closed) review, is a duplicate, from the CLI and over HTTP
    # (both under the default key: the account and the review); another decision under that key is refused.
    again = ["--request", "R1", "--note", "plan is credible", "--json"]
    retried = fengkong(keys, "reviews", "approve", account, *again)
    assert [(o["outcome"], o["event_id"]) for o in retried] == [("duplicate", decided[0]["event_id"])]
    changed = fengkong(keys, "reviews", "reject", account, *again, code=1)
    assert changed[0]["reason"] == "idempotency key: already used for another request"
    with TestClient(api_at(store)) as client:
        body = {"approved": True, "note": "plan is credible", "request_id": "R1"}
        auth = {"Authorization": f"Bearer {keys.keys[Role.OPERATOR]}"}
        over_http = client.post(f"/reviews/{account}/decision", json=body, headers=auth)
    assert over_http.status_code == 200 and over_http.json()["outcome"] == "duplicate"
    assert "no open unlock review" in fengkong(keys, "reviews", "reject", account, "--note", "late", code=1)
    proof = fengkong(keys, "audit", account, "--json", role=None)
    assert proof["identical"] == 1 and proof["operator_actions"][0]["action"] == "ReviewDecided"
    assert len(proof["operator_actions"]) == 1


def test_a_review_decision_retried_once_the_review_is_closed_is_a_duplicate(store: str) -> None:
    """A retry (same idempotency key, same request) answers `duplicate` though the review it decided is closed,
    even once another review is open, with or without its request_id; a different request under that key, or a
    key never used on that review, is refused; a key that decided nothing, with no review open: refused."""
    account = under_review(store)
    actor = Principal("k-retry", "retrier", Role.OPERATOR)
    engine = open_engine(store)
    tables = bootstrap.open_engine_tables(Settings(store=store))
    operators = Operators(engine, tables)
    note = "no proof of income"
    try:
        first = operators.decide_review(actor, account, False, note, key="click-1")  # the open review: R1
        again = operators.decide_review(actor, account, False, note, "R1", key="click-1")
        other = operators.decide_review(actor, account, True, note, "R1", key="click-1")
        with pytest.raises(ActionRefused, match=r"^account_id: the account has no open unlock review$"):
            operators.decide_review(actor, account, False, note, "R1")  # its default key decided nothing
        with pytest.raises(ActionRefused, match=r"^account_id: the account has no open unlock review$"):
            operators.decide_review(actor, account, False, note, key="click-0")  # decided nothing: which review?
        bare = operators.decide_review(actor, account, False, note, key="click-1")  # the review it decided: R1
        second = {**Events(account).request("R2", "2026-09-05T10:00:00"), "event_id": f"{account}-R2"}
        list(engine.ingest([orjson.dumps(second)]))
        assert (account_now := engine.load_account(account)) is not None and account_now.controls.review_id == "R2"
        later = operators.decide_review(actor, account, False, note, "R1", key="click-1")
        bare_later = operators.decide_review(actor, account, False, note, key="click-1")  # R2 open: still R1
        with pytest.raises(ActionRefused, match=r"^request_id: not the account's open review$"):
            operators.decide_review(actor, account, False, note, "R1", key="click-2")
        assert (account_now := engine.load_account(account)) is not None and account_now.controls.review_id == "R2"
    finally:
        engine.close()
        tables.db.close()
    retries = (again, bare, later, bare_later)
    assert [o.outcome for o in (first, *retries)] == ["applied", "duplicate", "duplicate", "duplicate", "duplicate"]
    assert all(o.event_id == first.event_id and o.target == "R1" and o.commands == [] for o in retries)
    assert (other.outcome, other.reason) == ("refused", "idempotency key: already used for another request")


def test_an_action_retried_later_with_its_idempotency_key_is_a_duplicate(store: str, tmp_path: Path) -> None:
    """A request sent again (a lost response, the same idempotency key) at a later time acts once: its free
    text is sealed before it is recorded, and its digest still leaves the time out; so reconcile finds the
    sealed action's fact and its index row agree."""
    account = under_review(store)  # its overdue bill locked the card
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    actor = Principal("k-retry", "retrier", Role.OPERATOR)
    times = iter([datetime(2026, 11, 30, 8, tzinfo=UTC), datetime(2026, 11, 30, 8, 5, tzinfo=UTC)])
    engine, db = open_engine(store), tables_at(store)
    tables = bootstrap.open_engine_tables(Settings(store=store))
    operators = Operators(engine, tables, now=lambda: next(times))
    try:
        plan = operators.plan_undo(db, start, end)
        assert [item.account_id for item in plan] == [account]
        first = operators.undo(actor, plan, start, end, None, "upstream double posting", key="retry-1")
        again = operators.undo(actor, plan, start, end, None, "upstream double posting", key="retry-1")
    finally:
        engine.close()
        tables.db.close()
        db.close()
    assert [o.outcome for o in first] == ["applied"]
    assert [(o.outcome, o.event_id) for o in again] == [("duplicate", first[0].event_id)]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(review_events()) + b"\n")
    flags = ["--input", str(tmp_path / "in.jsonl"), "--no-projections", "--json"]
    done = CliRunner().invoke(cli, ["reconcile", "--store", store, *flags])
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout)["gaps"] == {}


def test_a_window_of_locks_undone_after_a_dry_run(burst_store: Store) -> None:
    window = ["--from", "2026-03-21T02:30:00+08:00", "--to", "2026-03-21T03:30:00+08:00"]
    plan = fengkong(burst_store, "locks", "undo", *window, "--dry-run", "--json")
    assert plan["dry_run"] and len(plan["would_undo"]) == BURST.bound  # the emitted ones; held ones lock nothing
    engine = open_engine(burst_store.url)
    assert engine.store.brake_state().version >= 1  # nothing was recorded by the dry run but the catch-up
    done = fengkong(burst_store, "locks", "undo", *window, "--reason", "upstream double posting", "--json")
    assert len(done) == BURST.bound and {o["outcome"] for o in done} == {"applied"}
    assert all([c["type"] for c in o["commands"]] == ["UnlockCard", "RestoreCreditLine"] for o in done)
    account = engine.load_account(done[0]["account_id"])
    assert account is not None and not account.controls.card_locked
    engine.close()
    again = fengkong(burst_store, "locks", "undo", *window, "--dry-run", "--json")
    assert again["would_undo"] == []  # their accounts are no longer locked by them
    assert fengkong(burst_store, "audit", "--all", "--json", role=None)["brake"]["identical"]


def test_an_admin_corrects_a_clock_closed_too_far_ahead(store: str) -> None:
    keys = Store(store, {role: key_at(store, role) for role in (Role.OPERATOR, Role.ADMIN)})
    e = Events("CLK")
    engine = open_engine(store)
    list(engine.ingest([orjson.dumps(e.day_closed("2026-03-10")), orjson.dumps(e.day_closed("2026-03-25"))]))
    assert "admin" in fengkong(keys, "clock", "correct", "--date", "2026-03-11", "--reason", "x", code=3)
    corrected = fengkong(
        keys, "clock", "correct", "--date", "2026-03-11", "--reason", "wrong date", "--json", role=Role.ADMIN
    )
    assert corrected[0]["outcome"] == "applied"
    engine.forget_cached()
    results = list(engine.ingest([orjson.dumps(e.day_closed("2026-03-12"))]))
    assert results[0].outcome.value == "accepted"
    engine.close()
    actions = fengkong(keys, "audit", "--all", "--json", role=None)["operator_actions"]
    assert [a["action"] for a in actions] == ["ClockCorrected"] and actions[0]["role"] == "admin"
