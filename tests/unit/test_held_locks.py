"""Held locks on one account (contract rule 8): held, released, dropped, dropped when paid off; AccountClosed."""

from __future__ import annotations

from typing import Any

import pytest

from engine.account import CreditAccount
from engine.audit import replay
from engine.ledger import Rejected
from engine.rules import Decision
from events.operator import build_action
from events.recorded import decode
from tests.builders import DEFAULT, Events, commands, parsed

HELD = {"count": 50, "active": 1000, "bound": 50, "verdict": "held"}
EMITTED = {"count": 3, "active": 1000, "bound": 50, "verdict": "emitted"}
OPERATOR = {"actor": "alice", "key_id": "k1", "role": "operator"}


def held(_: Decision) -> dict[str, Any]:
    return dict(HELD)


def emitted(_: Decision) -> dict[str, Any]:
    return dict(EMITTED)


def action(kind: str, account_id: str, key: str, **data: Any) -> Any:
    return build_action(kind, key, "2026-09-05T10:00:00+08:00", {**OPERATOR, **data}, account_id)


@pytest.fixture
def e() -> Events:
    return Events("H1")


def overdue_account(e: Events) -> tuple[CreditAccount, list[Decision]]:
    """An account whose first overdue report is held by the brake."""
    account = CreditAccount("H1")
    for event in (e.opened(), e.bill("b1", "500.00", "2026-09-01")):
        account.handle(parsed(event), DEFAULT)
    return account, account.handle(parsed(e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")), DEFAULT, held)


def test_a_held_lock_records_its_facts_and_verdict_without_commands_and_does_not_lock(e: Events) -> None:
    account, decided = overdue_account(e)
    assert ("LockCard", "lock.overdue") not in commands(decided)
    assert ("SuspendCreditLine", "lock.overdue") not in commands(decided)
    lock = decided[0]
    assert lock.rule == "lock.overdue" and lock.command is None and lock.brake == HELD
    assert lock.facts["bill_id"] == "b1"  # its facts, as an emitted lock's
    assert not account.controls.card_locked and not account.controls.line_suspended
    assert account.controls.held is not None
    assert [c["type"] for c in account.controls.held["commands"]] == ["LockCard", "SuspendCreditLine"]
    assert ("SendNotice", "notice.overdue") in commands(decided)  # the rest of the policy goes on


def test_rules_1_and_5_do_not_fire_again_while_the_lock_is_held(e: Events) -> None:
    account, _ = overdue_account(e)
    again = account.handle(parsed(e.overdue("b1", 2, "500.00", "2026-09-03T10:00:00")), DEFAULT, held)
    assert not any(d.rule in ("lock.overdue", "lock.broken_plan") for d in again)


def test_release_emits_exactly_the_held_commands_with_their_ids(e: Events) -> None:
    account, _ = overdue_account(e)
    assert account.controls.held is not None
    would_have = account.controls.held["commands"]
    released = account.handle(action("HoldReleased", "H1", "r1", hold_id=would_have[0]["command_id"]), DEFAULT)
    assert [d.command for d in released] == would_have  # the same commands, ids, rule, cause and time
    assert {d.rule for d in released} == {"brake.release"}
    assert account.controls.card_locked and account.controls.line_suspended and account.controls.held is None
    assert released[0].facts["actor"] == "alice"


def test_drop_emits_nothing_and_a_second_action_on_the_hold_is_refused(e: Events) -> None:
    account, _ = overdue_account(e)
    assert account.controls.held is not None
    hold_id = account.controls.held["id"]
    dropped = account.handle(action("HoldDropped", "H1", "d1", hold_id=hold_id, reason="billing fault"), DEFAULT)
    assert [d.rule for d in dropped] == ["brake.drop"] and not commands(dropped)
    assert account.controls.held is None and not account.controls.card_locked
    with pytest.raises(Rejected, match="hold_id"):
        account.handle(action("HoldReleased", "H1", "r1", hold_id=hold_id), DEFAULT)


def test_a_held_lock_is_dropped_when_the_overdue_is_paid_off_and_nothing_is_unlocked(e: Events) -> None:
    account, _ = overdue_account(e)
    paid = account.handle(parsed(e.pay("p1", "500.00", "2026-09-03T10:00:00")), DEFAULT)
    assert "brake.auto_drop" in [d.rule for d in paid]
    assert not any(t in ("UnlockCard", "RestoreCreditLine") for t, _ in commands(paid))
    assert account.controls.held is None


def test_an_emitted_lock_records_its_verdict_with_its_command(e: Events) -> None:
    account = CreditAccount("H1")
    for event in (e.opened(), e.bill("b1", "500.00", "2026-09-01")):
        account.handle(parsed(event), DEFAULT)
    decided = account.handle(parsed(e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")), DEFAULT, emitted)
    assert decided[0].command is not None and decided[0].brake == EMITTED
    assert decided[1].brake is None  # the SuspendCreditLine goes with it, unjudged
    assert account.controls.card_locked


def test_replay_reloads_and_audits_holds_releases_and_drops(e: Events) -> None:
    account, _ = overdue_account(e)
    assert account.controls.held is not None
    hold_id = account.controls.held["id"]
    account.handle(action("HoldReleased", "H1", "r1", hold_id=hold_id), DEFAULT)
    states = [decode(row[3]) for row in account.collect()]
    reloaded = CreditAccount.load("H1", states)
    assert reloaded.controls == account.controls and reloaded.version == account.version
    result = replay("H1", states, lambda _: DEFAULT)
    assert result.identical, result.differences()
    assert [a["action"] for a in result.actions] == ["HoldReleased"] and result.actions[0]["actor"] == "alice"


def test_a_closed_account_takes_repayments_and_reversals_only(e: Events) -> None:
    account = CreditAccount("H1")
    for event in (e.opened(), e.bill("b1", "500.00", "2026-09-01"), e.pay("p1", "100.00", "2026-08-20T10:00:00")):
        account.handle(parsed(event), DEFAULT)
    closed = account.handle(parsed(e.make("AccountClosed", "2026-08-21T10:00:00", {"reason": "charged_off"})), DEFAULT)
    assert [d.rule for d in closed] == ["account.closed"] and account.ledger.closed == "charged_off"
    for refused in (
        e.bill("b2", "10.00", "2026-10-01"),
        e.overdue("b1", 1, "400.00", "2026-09-02T10:00:00"),
        e.make("AccountClosed", "2026-08-22T10:00:00", {"reason": "repaid"}),
    ):
        with pytest.raises(Rejected, match="account closed"):
            account.handle(parsed(refused), DEFAULT)
    account.handle(parsed(e.pay("p2", "400.00", "2026-08-23T10:00:00")), DEFAULT)  # a recovery
    account.handle(parsed(e.reverse("p2", "2026-08-24T10:00:00")), DEFAULT)
    assert str(account.ledger.outstanding) == "400.00"
