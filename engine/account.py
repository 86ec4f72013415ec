"""The CreditAccount aggregate: one stream of recorded facts per credit account.

Each inbound fact the account takes is recorded as one stored event on its
stream (events.recorded: the fact as validated, the balances right after it,
and the decisions the policy took on it). The ledger evolves from facts, the
controls from the recorded decisions, so loading an account never re-runs the
policy; auditing does (engine.audit). The stream's version is the number of
facts recorded: two writers that decided from the same version cannot both
save (the store's key on stream and version refuses the second).

Beside them the account keeps the notices it was sent (engine.notices, from
its decisions) and, when its policy scores accounts, its facts as of any
instant (engine.scoring.features), which the default probability is read from.
"""

from __future__ import annotations

from typing import Any

from engine.controls import Controls
from engine.ledger import Ledger
from engine.notices import NoticeBook
from engine.policy import Policy
from engine.rules import Before, Decision, decide
from engine.scoring.features import FeatureState
from events.inbound import AccountEvent, DayClosed, NoticeOutcomeReported, ParsedEvent, load_object
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

    __slots__ = ("account_id", "controls", "features", "ledger", "notices", "pending", "version")

    def __init__(self, account_id: str, scored: bool = True) -> None:
        """`scored`: keep the facts as of any instant (a policy that scores accounts reads them)."""
        self.account_id = account_id
        self.ledger = Ledger(account_id)
        self.controls = Controls()
        self.notices = NoticeBook()
        self.features = FeatureState(account_id) if scored else None
        self.version = 0
        self.pending: list[StoredRow] = []

    def replay(self, state: State) -> None:
        """Apply one recorded fact (a decoded state): the fact to the ledger, its decisions' changes to the controls."""
        fact = load_object(state["fact"])
        self.ledger.apply(fact)
        if self.features is not None:
            self.features.add(fact)
        for decision in state.get("decisions", ()):
            changes = decision.get("changes")
            if changes:
                self.controls = self.controls.changed(changes)
            self.notices.note(decision["rule"], decision["facts"], decision.get("command"))
        self.version += 1

    def handle(self, parsed: ParsedEvent, policy: Policy) -> list[Decision]:
        """Record a valid inbound event and the decisions it causes (saved with the batch).

        Raises engine.ledger.Rejected, before anything changes, if the account
        cannot take the event.
        """
        fact = parsed.event
        if isinstance(fact, NoticeOutcomeReported):
            self.notices.check(fact)
        if policy.scoring is not None and self.features is None:
            raise ValueError(f"policy {policy.version} scores accounts: load account {self.account_id} scored")
        before = admit(self.ledger, fact)
        if before is None:
            return []
        if self.features is not None:
            self.features.add(fact)
        decisions = decide(fact, before, self.ledger, self.controls, policy, self.features, self.notices)
        occurred_at = fact.occurred_at.isoformat()
        stored: list[dict[str, Any]] = []
        for decision in decisions:
            self.controls = self.controls.changed(decision.changes)
            self.notices.note(decision.rule, decision.facts, decision.command)
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
