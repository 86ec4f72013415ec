"""The CreditAccount aggregate: one stream of recorded facts per credit account.

Each inbound fact the account takes is recorded as one stored event on its
stream (events.recorded: the fact as validated, the balances right after it,
and the decisions the policy took on it). The ledger evolves from facts, the
controls from the recorded decisions, so loading an account never re-runs the
policy; auditing does (engine.audit). The stream's version is the number of
facts recorded: two writers that decided from the same version cannot both
save (the store's key on stream and version refuses the second).
"""

from __future__ import annotations

from typing import Any

from engine.business_days import HolidayCalendar
from engine.controls import Controls
from engine.ledger import Ledger
from engine.policy import Policy
from engine.rules import Before, Decision, decide
from events.inbound import AccountEvent, DayClosed, ParsedEvent, load_object
from events.recorded import FACT_TOPIC, State, compact_decision, encode_fact

StoredRow = tuple[str, int, str, bytes]
"""(stream id, version, topic, state): one stored event, as the store records it."""


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


class CreditAccount:
    """An account's ledger and controls, its stream version, and the rows it has not saved yet."""

    __slots__ = ("account_id", "controls", "ledger", "pending", "version")

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.ledger = Ledger(account_id)
        self.controls = Controls()
        self.version = 0
        self.pending: list[StoredRow] = []

    def replay(self, state: State) -> None:
        """Apply one recorded fact (a decoded state): the fact to the ledger, its decisions' changes to the controls."""
        self.ledger.apply(load_object(state["fact"]))
        for decision in state.get("decisions", ()):
            changes = decision.get("changes")
            if changes:
                self.controls = self.controls.changed(changes)
        self.version += 1

    def handle(self, parsed: ParsedEvent, policy: Policy, calendar: HolidayCalendar | None = None) -> list[Decision]:
        """Record a valid inbound event and the decisions it causes (saved with the batch).

        `calendar` is the holiday calendar in force (the shipped seed when None).

        Raises engine.ledger.Rejected, before anything changes, if the account
        cannot take the event.
        """
        fact = parsed.event
        before = admit(self.ledger, fact)
        if before is None:
            return []
        decisions = decide(fact, before, self.ledger, self.controls, policy, calendar)
        occurred_at = fact.occurred_at.isoformat()
        stored: list[dict[str, Any]] = []
        for decision in decisions:
            self.controls = self.controls.changed(decision.changes)
            stored.append(
                compact_decision(
                    decision.rule,
                    decision.facts,
                    decision.changes,
                    decision.command,
                    self.account_id,
                    policy.version,
                    fact.event_id,
                    occurred_at,
                )
            )
        self.version += 1
        state = encode_fact(parsed.canonical, policy.version, self.ledger.balances(), stored)
        self.pending.append((self.account_id, self.version, FACT_TOPIC, state))
        return decisions

    def collect(self) -> list[StoredRow]:
        """The rows recorded since the last collect, to save."""
        rows, self.pending = self.pending, []
        return rows
