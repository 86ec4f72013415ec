"""Corrections: an account re-derived as if an earlier fact had never happened.

Upstream retracts a wrong event (`FactRetracted`), or an operator undoes an
automatic lock whose cause was wrong (`LockUndone`, one account of a bulk
undo): the account's ledger is rebuilt from its recorded facts without the
retracted ones, the policy is run again over them to learn what it would
have set, and `decide_retraction` emits the difference as
compensating commands. Loading an account and audit replay rebuild the
ledger the same way at the same point, so all three agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.business_days import HolidayCalendar, seed_calendar
from engine.controls import Controls
from engine.ledger import Ledger, Rejected
from engine.notices import NoticeBook
from engine.policy import Policy
from engine.rules import Decider, Decision, admit, decide, review_closed
from engine.scoring.features import FeatureState
from events.commands import CommandType
from events.inbound import AccountOpened, DayClosed, FactRetracted
from events.operator import ACTION_TYPES, Fact, HoldDropped, HoldReleased, LockUndone
from events.personal import is_sealed
from events.rules import Rule

RETRACTIONS = (FactRetracted, LockUndone)
RETRACTION_TYPES = frozenset({"FactRetracted", "LockUndone"})


def retracted_ids(facts: Sequence[Fact]) -> set[str]:
    return {fact.data.retracted_event_id for fact in facts if isinstance(fact, RETRACTIONS)}


def check_retraction(history: Sequence[Fact], retraction: FactRetracted | LockUndone) -> None:
    """Raise Rejected (naming the field) unless the account recorded the fact and it was not retracted yet."""
    target = retraction.data.retracted_event_id
    found = next((fact for fact in history if fact.event_id == target), None)
    field = "data.retracted_event_id"
    if found is None:
        raise Rejected(f"{field}: the account recorded no event with this id")
    if target in retracted_ids(history):
        raise Rejected(f"{field}: already retracted")
    if isinstance(found, AccountOpened):
        raise Rejected(f"{field}: an account's opening cannot be retracted")
    if isinstance(found, DayClosed):
        raise Rejected(f"{field}: a closed business date belongs to the platform clock; an admin corrects the clock")
    if isinstance(found, FactRetracted) or found.type in ACTION_TYPES:
        raise Rejected(f"{field}: a retraction or an operator's action cannot be retracted")


def rebuild_ledger(account_id: str, facts: Sequence[Fact], retracted: set[str]) -> Ledger:
    """The ledger of `facts` without the retracted ones (a later fact that no longer applies is left out too)."""
    ledger = Ledger(account_id)
    for fact in facts:
        if fact.event_id in retracted or isinstance(fact, RETRACTIONS):
            continue
        try:
            admit(ledger, fact)
        except Rejected:
            continue
    return ledger


def rederive_controls(
    account_id: str, facts: Sequence[Fact], retracted: set[str], policy: Policy, calendar: HolidayCalendar | None = None
) -> Controls:
    """What `policy` would have set over `facts` without the retracted ones (every automatic lock emitted)."""
    ledger, controls, notices = Ledger(account_id), Controls(), NoticeBook()
    features = FeatureState(account_id) if policy.scoring is not None else None
    for fact in facts:
        if fact.event_id in retracted or isinstance(fact, (*RETRACTIONS, HoldReleased, HoldDropped)):
            continue
        try:
            before = admit(ledger, fact)
        except Rejected:
            continue
        if before is None:
            continue
        if features is not None:
            features.add(fact)
        for decision in decide(fact, before, ledger, controls, policy, calendar, features, notices):
            controls = controls.changed(decision.changes)
            notices.note(decision.rule, decision.facts, decision.command)
    return controls


def decide_retraction(
    event: FactRetracted | LockUndone,
    ledger: Ledger,
    controls: Controls,
    rederived: Controls,
    policy: Policy,
    calendar: HolidayCalendar | None = None,
) -> list[Decision]:
    """What a retraction changes: the account as re-derived without the fact, against what was emitted.

    `ledger` is already re-derived; `rederived` is what the policy would have set
    without the retracted fact. Where the account is stricter than that, the
    difference goes out as compensating commands citing the retraction: the card
    unlocked, the line restored, the limit raised back, the bureau mark cleared,
    the score given back, a held lock dropped. Where re-derivation is stricter
    nothing is emitted now: the next fact decides as usual.
    """
    d = Decider(ledger.account_id, event, controls, policy, calendar or seed_calendar())
    facts: dict[str, Any] = {"retracted_event_id": event.data.retracted_event_id}
    if not is_sealed(event.data.reason):  # a sealed reason stays in the fact alone: no decision holds personal data
        facts["reason"] = event.data.reason
    if isinstance(event, LockUndone):
        data = event.data
        facts.update(
            actor=data.actor,
            key_id=data.key_id,
            role=data.role,
            lock_command_id=data.lock_command_id,
            window_from=data.window_from.isoformat(),
            window_to=data.window_to.isoformat(),
            rule=data.rule,
        )
    d.emit(Rule.RETRACTION, facts)
    compensate = Rule.RETRACTION_COMPENSATE
    if controls.held is not None and not rederived.card_locked:
        d.emit(compensate, {**facts, "hold_id": controls.held["id"]}, {"held": None})
    if controls.card_locked and not rederived.card_locked:
        changes = {"card_locked": False, **(review_closed() if controls.review_open else {})}
        d.emit(compensate, facts, changes, CommandType.UNLOCK_CARD)
    if controls.line_suspended and not rederived.line_suspended:
        d.emit(compensate, facts, {"line_suspended": False}, CommandType.RESTORE_CREDIT_LINE)
    if rederived.credit_limit > controls.credit_limit:
        limit = rederived.credit_limit
        d.emit(
            compensate,
            {**facts, "previous_limit": str(controls.credit_limit)},
            {"credit_limit": limit},
            CommandType.ADJUST_CREDIT_LIMIT,
            new_limit=str(limit),
        )
    if controls.bureau_flag and not rederived.bureau_flag:
        d.emit(compensate, facts, {"bureau_flag": False})
    if rederived.score > controls.score:
        d.emit(compensate, {**facts, "previous_score": controls.score}, {"score": rederived.score})
    return d.decisions
