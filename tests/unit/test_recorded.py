"""The stored format: versioned, upcast on read, and nothing left out that a reader needs back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from events.recorded import FORMAT, UPCASTERS, FormatError, compact_decision, decode, encode_fact, expand_decision

COMMAND = {
    "command_id": "c-1",
    "account_id": "A1",
    "policy_version": "default-v1",
    "rule": "lock.overdue",
    "cause_event_id": "e-9",
    "occurred_at": "2026-03-10T09:00:00+08:00",
    "type": "LockCard",
}
ENVELOPE = ("A1", "default-v1", "e-9", "2026-03-10T09:00:00+08:00")
BALANCES = {
    "overdue_outstanding": "10.00",
    "outstanding": "10.00",
    "credit": "0.00",
    "days_past_due": 3,
    "active_plan_id": None,
    "overdue_bills": 1,
}


def test_a_decision_comes_back_exactly_as_emitted() -> None:
    full = {
        "rule": "lock.overdue",
        "policy_version": "default-v1",
        "cause_event_id": "e-9",
        "occurred_at": "2026-03-10T09:00:00+08:00",
        "facts": {"days_past_due": 3},
        "changes": {"card_locked": True},
        "command": COMMAND,
    }
    stored = compact_decision("lock.overdue", {"days_past_due": 3}, {"card_locked": True}, COMMAND, *ENVELOPE)
    assert stored["command"] == {"command_id": "c-1", "type": "LockCard"}
    expanded = expand_decision(stored, *ENVELOPE)
    assert orjson.dumps(expanded) == orjson.dumps(full)  # key order included


def test_a_command_that_does_not_repeat_its_envelope_is_refused() -> None:
    with pytest.raises(ValueError, match="does not repeat its envelope"):
        compact_decision("lock.overdue", {}, {}, {**COMMAND, "cause_event_id": "other"}, *ENVELOPE)


def test_every_state_carries_its_format_and_an_unknown_one_is_refused() -> None:
    state = encode_fact('{"event_id":"e-9"}', "default-v1", BALANCES, [], recorded_at_ms=1)
    assert decode(state)["v"] == FORMAT
    with pytest.raises(FormatError):
        decode(orjson.dumps({"v": FORMAT + 1, "fact": {}}))
    with pytest.raises(FormatError):
        decode(orjson.dumps({"fact": {}}))


def test_an_older_format_is_upcast_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """How a later format will read this one: each upcaster takes one step, the reader sees the current format."""

    def from_older(state: dict[str, Any]) -> dict[str, Any]:
        renamed = {key: value for key, value in state.items() if key != "policy_version"}
        return {**renamed, "v": FORMAT, "policy": state["policy_version"]}

    def from_oldest(state: dict[str, Any]) -> dict[str, Any]:
        return {**state, "v": FORMAT - 1}

    monkeypatch.setitem(UPCASTERS, FORMAT - 1, from_older)
    monkeypatch.setitem(UPCASTERS, FORMAT - 2, from_oldest)
    old = orjson.dumps({"v": FORMAT - 2, "policy_version": "default-v1", "fact": {}})
    assert decode(old) == {"v": FORMAT, "policy": "default-v1", "fact": {}}
