"""The CreditAccount aggregate: one event stream per credit account.

Its stream holds each inbound fact as recorded (`FactRecorded`, with the
balances right after it, for readers) and each decision the policy took on
it (`Decided`), in order. The ledger evolves from facts, the controls from
decisions, so loading an account never re-runs the policy; auditing does
(engine.audit).
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from eventsourcing.domain import Aggregate, event

from engine.controls import Controls
from engine.ledger import Ledger
from engine.policy import Policy
from engine.rules import Before, Decision, decide
from events.inbound import AccountEvent, DayClosed, ParsedEvent, load_canonical

ACCOUNT_NAMESPACE = uuid.UUID("0b7e1e0c-55a4-4c3f-8f6e-2f6c0f5a9d21")
FACT, DECISION = "fact", "decision"  # the two kinds of recorded state audit replays


def admit(ledger: Ledger, fact: AccountEvent | DayClosed) -> Before | None:
    """Check `fact` and apply it to `ledger`; the figures rules compare, or None for a stale DayClosed.

    Raises engine.ledger.Rejected, before anything changes, if the account
    cannot take the fact. Shared by handle() and audit replay.
    """
    if isinstance(fact, DayClosed):
        if ledger.last_closed is not None and fact.data.business_date <= ledger.last_closed:
            return None
    else:
        ledger.check(fact)
    before = Before.capture(ledger, fact)
    ledger.apply(fact)
    return before


class CreditAccount(Aggregate):
    class Started(Aggregate.Created):
        account_id: str

    class FactRecorded(Aggregate.Event):
        fact: str
        policy_version: str
        balances: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            account = cast(CreditAccount, aggregate)
            if account._applied != self.fact:
                account.ledger.apply(load_canonical(self.fact))
            account._applied = None

    class Decided(Aggregate.Event):
        rule: str
        policy_version: str
        cause_event_id: str
        occurred_at: str
        facts: dict[str, Any]
        changes: dict[str, Any]
        command: dict[str, Any] | None

        def apply(self, aggregate: Any) -> None:
            account = cast(CreditAccount, aggregate)
            account.controls = account.controls.changed(self.changes)

    @staticmethod
    def create_id(account_id: str) -> uuid.UUID:
        return uuid.uuid5(ACCOUNT_NAMESPACE, account_id)

    @event(Started)
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.ledger = Ledger(account_id)
        self.controls = Controls()
        self._applied: str | None = None

    # ------------------------------------------------------------ commands

    def handle(self, parsed: ParsedEvent, policy: Policy) -> list[Decision]:
        """Record a valid inbound event and the decisions it causes.

        Raises engine.ledger.Rejected, before anything changes, if the
        account cannot take the event.
        """
        fact = parsed.event
        # Applied here first so the recorded balances are the ones after the
        # fact; the event's apply() then skips it (loading applies it there).
        before = admit(self.ledger, fact)
        if before is None:
            return []
        self._applied = parsed.canonical
        # trigger_event directly (not @event methods): the same events, without
        # the per-call signature matching the decorator does on the hot path.
        self.trigger_event(
            CreditAccount.FactRecorded,
            fact=parsed.canonical,
            policy_version=policy.version,
            balances=self.ledger.balances(),
        )
        decisions = decide(fact, before, self.ledger, self.controls, policy)
        occurred_at = fact.occurred_at.isoformat()
        for decision in decisions:
            self.trigger_event(
                CreditAccount.Decided,
                rule=decision.rule,
                policy_version=policy.version,
                cause_event_id=fact.event_id,
                occurred_at=occurred_at,
                facts=decision.facts,
                changes=decision.changes,
                command=decision.command,
            )
        return decisions
