"""The engine over a real store (SQLite file and PostgreSQL server): the bar of the core issue."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.synthetic.portfolio import Portfolio
from engine.audit import replay
from engine.batch import Outcome
from engine.policy import load_policy
from tests.support.wiring import open_engine

DATA = Path(__file__).resolve().parents[1] / "data"
KEYS = ("cause_event_id", "account_id", "type", "rule", "template", "channel", "deliver_at", "new_limit")


def scenario_lines() -> list[bytes]:
    return (DATA / "contract_scenario.jsonl").read_bytes().splitlines()


def command_list(store: str) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in open_engine(store).commands()]


def test_contract_scenario_yields_exactly_the_prescribed_commands(store: str) -> None:
    engine = open_engine(store)
    results = list(engine.ingest(scenario_lines()))
    assert [r.reason for r in results if r.outcome is not Outcome.ACCEPTED] == []
    expected = json.loads((DATA / "contract_scenario.expected.json").read_text())
    got = [{k: c[k] for k in KEYS if k in c} for c in command_list(store)]
    assert got == expected


@pytest.mark.parametrize("variant", ["twice", "every_line_duplicated", "small_batches"])
def test_duplicates_change_nothing_and_ids_are_stable(store: str, tmp_path: Path, variant: str) -> None:
    lines = scenario_lines()
    clean = str(tmp_path / "clean.db")
    list(open_engine(clean).ingest(lines))
    baseline = command_list(clean)

    engine = open_engine(store)
    if variant == "twice":
        list(engine.ingest(lines))
        second = list(open_engine(store).ingest(lines))  # a fresh process: nothing cached
        assert {r.outcome for r in second} == {Outcome.DUPLICATE}
    elif variant == "every_line_duplicated":
        results = list(engine.ingest([line for line in lines for _ in range(2)], batch_size=7))
        assert sum(r.outcome is Outcome.DUPLICATE for r in results) == len(lines)
    else:
        list(engine.ingest(lines, batch_size=1))
    assert command_list(store) == baseline


def test_same_event_id_with_another_payload_is_a_conflict(store: str) -> None:
    engine = open_engine(store)
    lines = scenario_lines()
    list(engine.ingest(lines[:5]))
    altered = json.loads(lines[1])
    altered["occurred_at"] = "2026-08-01T10:00:01+08:00"
    [result] = engine.process([json.dumps(altered)])
    assert result.outcome is Outcome.REJECTED
    assert result.reason == "event_id: already recorded with a different payload"


def test_bad_lines_are_rejected_and_their_neighbours_applied(store: str) -> None:
    lines = scenario_lines()
    mixed = [lines[0], b"{not json", lines[1], b'{"type": "Nope"}', *lines[2:]]
    results = list(open_engine(store).ingest(mixed, batch_size=3))
    assert [r.outcome for r in results].count(Outcome.REJECTED) == 2
    assert len(command_list(store)) == len(json.loads((DATA / "contract_scenario.expected.json").read_text()))


def test_a_restarted_engine_continues_from_the_store(store: str) -> None:
    lines = scenario_lines()
    half = len(lines) // 2
    list(open_engine(store).ingest(lines[:half]))
    list(open_engine(store).ingest(lines[half:]))
    expected = json.loads((DATA / "contract_scenario.expected.json").read_text())
    assert [{k: c[k] for k in KEYS if k in c} for c in command_list(store)] == expected


def test_audit_replay_reproduces_every_decision_of_a_synthetic_portfolio(store: str) -> None:
    engine = open_engine(store)
    events = [json.dumps(e) for e in Portfolio(60, 150, seed=11).events()]
    list(engine.ingest(events))
    policy = load_policy()
    accounts = engine.account_ids()
    assert len(accounts) == 60
    for account_id, states in engine.recorded_histories(accounts):
        result = replay(account_id, states, lambda version: policy)
        assert result.identical, (account_id, result.differences()[:2])


def test_the_stored_account_equals_the_account_built_in_memory(store: str) -> None:
    events = [json.dumps(e) for e in Portfolio(30, 120, seed=5).events()]
    rng = random.Random(3)
    engine = open_engine(store)
    start = 0
    while start < len(events):  # random batch boundaries
        size = rng.randint(1, 400)
        engine.process(events[start : start + size])
        start += size
    fresh = open_engine(store)
    for account_id in fresh.account_ids():
        cached, loaded = engine.account(account_id), fresh.account(account_id)
        assert cached is not None and loaded is not None
        assert (cached.controls, cached.ledger.balances()) == (loaded.controls, loaded.ledger.balances())


def test_positions_are_saved_with_the_batch_and_never_go_back(store: str) -> None:
    engine = open_engine(store)
    lines = scenario_lines()
    engine.process(lines[:3], positions={("billing.events", 0): 3})
    engine.process(lines[3:6], positions={("billing.events", 0): 6, ("billing.events", 1): 1})
    engine.process([], positions={("billing.events", 0): 2})  # a late writer cannot move it back
    assert engine.positions("billing.events") == {0: 6, 1: 1}


def test_day_closed_reaches_only_accounts_whose_deadline_falls_due(store: str) -> None:
    engine = open_engine(store)
    lines = [line for line in scenario_lines() if b'"C1"' in line or b"DayClosed" in line]
    results = list(engine.ingest(lines, batch_size=1))
    escalations = [r for r in results if any(c.rule == "review.escalate" for c in r.commands)]
    assert len(escalations) == 1
    assert json.loads(lines[escalations[0].index])["data"]["business_date"] == "2026-10-13"
    assert engine.store.select_due_accounts(date(2026, 12, 31)) == []
