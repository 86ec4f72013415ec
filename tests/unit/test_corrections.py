"""Corrections (`FactRetracted`, an operator's `LockUndone`): the account re-derived, the difference compensated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.account import CreditAccount
from engine.audit import replay
from engine.ledger import Rejected
from engine.rules import Decision
from events.operator import Fact, build_action
from events.recorded import decode
from tests.builders import DEFAULT, Events, commands, parsed

UNLOCKED = [("UnlockCard", "retraction.compensate"), ("RestoreCreditLine", "retraction.compensate")]


class Account:
    """A pure account that keeps the facts it recorded (what the engine reads from the store for a retraction)."""

    def __init__(self, e: Events) -> None:
        self.e = e
        self.account = CreditAccount(e.account_id)
        self.facts: list[Fact] = []
        self.states: list[dict[str, Any]] = []

    def take(self, event: dict[str, Any] | Any) -> list[Decision]:
        item = parsed(event) if isinstance(event, dict) else event
        decided = self.account.handle(item, DEFAULT, None, lambda: list(self.facts))
        self.facts.append(item.event)
        self.states += [decode(row[3]) for row in self.account.collect()]
        return decided

    def retract(self, event_id: str, at: str = "2026-12-01T10:00:00") -> list[Decision]:
        return self.take(self.e.make("FactRetracted", at, {"retracted_event_id": event_id, "reason": "double posted"}))


@pytest.fixture
def e() -> Events:
    return Events("R1")


def test_retracting_the_overdue_that_locked_unlocks_and_restores_citing_the_retraction(e: Events) -> None:
    a = Account(e)
    a.take(e.opened())
    a.take(e.bill("b1", "500.00", "2026-09-01"))
    wrong = e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")
    a.take(wrong)
    assert a.account.controls.card_locked
    decided = a.retract(wrong["event_id"])
    retraction_id = a.facts[-1].event_id
    assert decided[0].rule == "retraction.applied"
    assert commands(decided) == UNLOCKED
    assert all(d.command["cause_event_id"] == retraction_id for d in decided if d.command)
    assert not a.account.controls.card_locked and not a.account.controls.line_suspended
    assert a.account.controls.score == DEFAULT.score.initial  # the overdue's penalty given back
    assert a.account.ledger.overdue_outstanding == 0 and a.account.ledger.outstanding == Decimal("500.00")


def test_retracting_the_third_overdue_bill_takes_the_limit_cut_and_the_bureau_mark_back(e: Events) -> None:
    a = Account(e)
    a.take(e.opened(limit="8000.00"))
    for n, (due, day) in enumerate((("2026-01-10", "01-11"), ("2026-02-10", "02-11"), ("2026-03-10", "03-11")), 1):
        a.take(e.bill(f"b{n}", "100.00", due, at=f"{due}T00:00:00"))
        last = e.overdue(f"b{n}", 1, "100.00", f"2026-{day}T10:00:00")
        a.take(last)
        if n < 3:
            a.take(e.pay(f"p{n}", "100.00", f"2026-{day}T12:00:00"))
    assert a.account.controls.credit_limit == Decimal("4000.00") and a.account.controls.bureau_flag
    decided = a.retract(last["event_id"])
    assert ("AdjustCreditLimit", "retraction.compensate") in commands(decided)
    adjust = next(d for d in decided if d.command and d.command["type"] == "AdjustCreditLimit")
    assert adjust.command is not None and adjust.command["new_limit"] == "8000.00"
    assert not a.account.controls.bureau_flag and a.account.controls.credit_limit == Decimal("8000.00")
    assert ("UnlockCard", "retraction.compensate") in commands(decided)


def test_a_retraction_whose_rederivation_is_stricter_emits_nothing_and_the_next_fact_decides(e: Events) -> None:
    a = Account(e)
    a.take(e.opened())
    a.take(e.bill("b1", "500.00", "2026-09-01"))
    a.take(e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00"))
    payment = e.pay("p1", "500.00", "2026-09-03T10:00:00")
    a.take(payment)
    assert not a.account.controls.card_locked
    decided = a.retract(payment["event_id"])
    assert commands(decided) == [] and [d.rule for d in decided] == ["retraction.applied"]
    assert a.account.ledger.overdue_outstanding == Decimal("500.00")  # the ledger is re-derived all the same
    relocked = a.take(e.overdue("b1", 3, "500.00", "2026-09-04T10:00:00"))
    assert ("LockCard", "lock.overdue") in commands(relocked)


def test_retracting_what_the_account_never_recorded_twice_or_its_opening_is_refused(e: Events) -> None:
    a = Account(e)
    opened = e.opened()
    a.take(opened)
    a.take(e.bill("b1", "500.00", "2026-09-01"))
    wrong = e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")
    a.take(wrong)
    with pytest.raises(Rejected, match="recorded no event"):
        a.retract("nope")
    with pytest.raises(Rejected, match="opening"):
        a.retract(opened["event_id"])
    a.retract(wrong["event_id"])
    with pytest.raises(Rejected, match="already retracted"):
        a.retract(wrong["event_id"])


def test_a_retraction_reloads_and_audits_byte_for_byte(e: Events) -> None:
    a = Account(e)
    a.take(e.opened())
    a.take(e.bill("b1", "500.00", "2026-09-01"))
    wrong = e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")
    a.take(wrong)
    a.retract(wrong["event_id"])
    a.take(e.pay("p1", "200.00", "2026-12-02T10:00:00"))
    reloaded = CreditAccount.load("R1", a.states)
    assert reloaded.ledger.balances() == a.account.ledger.balances() and reloaded.controls == a.account.controls
    result = replay("R1", a.states, lambda _: DEFAULT)
    assert result.identical, result.differences()


def test_an_operators_undo_re_derives_the_account_as_a_retraction_does(e: Events) -> None:
    a = Account(e)
    a.take(e.opened())
    a.take(e.bill("b1", "500.00", "2026-09-01"))
    wrong = e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")
    lock = a.take(wrong)[0].command
    assert lock is not None
    undo = build_action(
        "LockUndone",
        "u1",
        "2026-12-01T10:00:00+08:00",
        {
            "actor": "alice",
            "key_id": "k1",
            "role": "operator",
            "lock_command_id": lock["command_id"],
            "retracted_event_id": wrong["event_id"],
            "window_from": "2026-09-02T00:00:00+08:00",
            "window_to": "2026-09-03T00:00:00+08:00",
            "reason": "upstream double posting",
        },
        "R1",
    )
    decided = a.take(undo)
    assert commands(decided) == UNLOCKED
    assert decided[0].facts["actor"] == "alice" and decided[0].facts["lock_command_id"] == lock["command_id"]
    assert replay("R1", a.states, lambda _: DEFAULT).identical
