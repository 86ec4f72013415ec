"""Corrections: an account re-derived as if an earlier fact had never happened.

Upstream retracts a wrong event (`FactRetracted`), or an operator undoes an
automatic lock whose cause was wrong (`LockUndone`, one account of a bulk
undo): the account's ledger is rebuilt from its recorded facts without the
retracted ones, the policy is run again over them to learn what it would
have set, and `engine.rules.decide_retraction` emits the difference as
compensating commands. Loading an account and audit replay rebuild the
ledger the same way at the same point, so all three agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.controls import Controls
from engine.ledger import Ledger, Rejected
from engine.policy import Policy
from engine.rules import admit, decide
from events.inbound import AccountOpened, DayClosed, FactRetracted
from events.operator import ACTION_TYPES, Fact, HoldDropped, HoldReleased, LockUndone

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


def rederive_controls(account_id: str, facts: Sequence[Fact], retracted: set[str], policy: Policy) -> Controls:
    """What `policy` would have set over `facts` without the retracted ones (every automatic lock emitted)."""
    ledger, controls = Ledger(account_id), Controls()
    for fact in facts:
        if fact.event_id in retracted or isinstance(fact, (*RETRACTIONS, HoldReleased, HoldDropped)):
            continue
        try:
            before = admit(ledger, fact)
        except Rejected:
            continue
        if before is None:
            continue
        for decision in decide(fact, before, ledger, controls, policy):
            controls = controls.changed(decision.changes)
    return controls
