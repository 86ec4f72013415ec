"""Audit replay compares byte for byte: a stored decision or balance altered in any way is caught.

The comparison encodes each side's decisions whole (canonical JSON), so these tests alter the
recorded side in the ways an equality of Python values would miss (a JSON type changed, a value
equal under ==) as well as the plain ones; and a policy that scores accounts, met in the middle of
an account's history, sees every fact admitted before it (the replay builds the features only then).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from engine.account import CreditAccount
from engine.audit import replay
from engine.policy import Policy
from events.recorded import decode
from tests.builders import DEFAULT, Events, play, run, v2

State = dict[str, Any]


def locked_account() -> list[State]:
    """An account opened, billed and reported 5 days overdue: it is locked, suspended and sent a notice."""
    e = Events("T1")
    events = [e.opened(), e.bill("b1", "500.00", "2026-09-01"), e.overdue("b1", 5, "500.00", "2026-09-06T09:00:00")]
    account, _ = run(events, DEFAULT)
    return [decode(state) for *_, state in account.collect()]


def as_recorded(_: str) -> Policy:
    return DEFAULT


def test_an_untouched_account_replays_identical() -> None:
    result = replay("T1", locked_account(), as_recorded)
    assert result.identical and len(result.derived) == 5 and result.differences() == []


def _lock(states: list[State]) -> dict[str, Any]:
    return states[2]["decisions"][0]  # type: ignore[no-any-return]


def _notice(states: list[State]) -> dict[str, Any]:
    return states[2]["decisions"][3]  # type: ignore[no-any-return]


def _set(path: Callable[[list[State]], dict[str, Any]], key: str, value: Any) -> Callable[[list[State]], None]:
    def alter(states: list[State]) -> None:
        target = path(states)
        *parents, last = key.split(".")
        for name in parents:
            target = target[name]
        target[last] = value

    return alter


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(_set(_notice, "command.template", "overdue_d1"), id="a command's field"),
        pytest.param(_set(_lock, "command.command_id", "00000000-0000-5000-8000-000000000000"), id="a command id"),
        pytest.param(_set(_lock, "facts.days_past_due", 5.0), id="an int stored as a float (equal under ==)"),
        pytest.param(_set(_notice, "facts.deferred_by_quiet_hours", 0), id="a false stored as 0 (equal under ==)"),
        pytest.param(_set(_lock, "changes.card_locked", 1), id="a true stored as 1 (equal under ==)"),
        pytest.param(lambda states: states[2]["decisions"].pop(2), id="a decision dropped"),
        pytest.param(lambda states: states[2]["decisions"].reverse(), id="decisions reordered"),
        pytest.param(lambda states: states[1].setdefault("decisions", []).append(_lock(states)), id="one added"),
    ],
)
def test_a_tampered_stored_decision_is_caught(alter: Callable[[list[State]], Any]) -> None:
    states = locked_account()
    tampered = copy.deepcopy(states)
    alter(tampered)
    result = replay("T1", tampered, as_recorded)
    assert not result.identical and result.differences()
    assert replay("T1", states, as_recorded).identical  # the same replay of the stored states as they were


@pytest.mark.parametrize(("position", "value"), [(1, "500.01"), (1, "500.0"), (3, 5.0), (5, True)])
def test_a_tampered_stored_balance_is_caught(position: int, value: Any) -> None:
    states = locked_account()
    states[2]["balances"][position] = value  # 500.0 == 500.00 as decimals, 5.0 == 5 and True == 1 in Python
    result = replay("T1", states, as_recorded)
    assert not result.identical and result.balances_differ == [states[2]["fact"]["event_id"]]


def test_a_scoring_policy_met_mid_history_sees_every_fact_admitted_before_it() -> None:
    e = Events("T2")
    scored = v2()
    account = CreditAccount("T2")
    play(account, [e.opened(), e.bill("b1", "100.00", "2026-09-01")], DEFAULT)
    play(account, [e.pay("p1", "100.00", "2026-08-20T10:00:00"), e.reverse("p1", "2026-08-21T10:00:00")], DEFAULT)
    late = [e.pay("p2", "100.00", "2026-08-22T10:00:00"), e.bill("b2", "100.00", "2026-10-01", "2026-09-10T09:00:00")]
    decided = play(account, late, scored)
    assert any("scorecard" in d.facts for d in decided[-1])  # the tier: scored on the features of every fact
    states = [decode(state) for *_, state in account.collect()]
    policies = {DEFAULT.version: DEFAULT, scored.version: scored}
    result = replay("T2", states, policies.__getitem__)
    assert result.identical, result.differences()
    assert {d["policy_version"] for d in result.derived} == {DEFAULT.version, scored.version}
