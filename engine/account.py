"""The CreditAccount aggregate: one stream of recorded facts per credit account.

Each inbound fact the account takes is recorded as one stored event on its
stream (events.recorded: the fact as validated, the balances right after it,
and the decisions the policy took on it). The ledger evolves from facts, the
controls from the recorded decisions, so loading an account never re-runs the
policy; auditing does (engine.audit). The stream's version is the number of
facts recorded: two writers that decided from the same version cannot both
save (the store's key on stream and version refuses the second).

An operator's action is recorded the same way (events.operator). A
retraction rebuilds the ledger from the facts before it (engine.retraction),
on load as when it is decided. Beside them the account keeps the notices it
was sent (engine.notices, from its decisions) and, when its policy scores
accounts, its facts as of any instant (engine.scoring.features), which the
default probability is read from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from engine.brake import Verdicts, guard
from engine.business_days import HolidayCalendar
from engine.controls import Controls
from engine.ledger import Ledger, Rejected
from engine.notices import NoticeBook
from engine.policy import Policy
from engine.retraction import (
    RETRACTION_TYPES,
    RETRACTIONS,
    check_retraction,
    decide_retraction,
    rebuild_ledger,
    rederive_controls,
    retracted_ids,
)
from engine.rules import Decision, admit, decide
from engine.scoring.features import FeatureState
from events.inbound import NoticeOutcomeReported, ParsedEvent, load_object
from events.operator import Fact, HoldDropped, HoldReleased, LockUndone
from events.recorded import FACT_TOPIC, State, compact_decision, fact_state

__all__ = ["CreditAccount", "StoredRow", "admit"]

StoredRow = tuple[str, int, str, bytes]
"""(stream id, version, topic, state): one stored event, as the store records it."""
History = Callable[[], list[Fact]]
"""The facts the account recorded so far, in order (read only when a retraction needs them)."""


def check_action(controls: Controls, fact: Fact) -> None:
    """Raise Rejected if an operator's action does not apply to the account as it is."""
    if isinstance(fact, (HoldReleased, HoldDropped)):
        held = controls.held
        if held is None or held["id"] != fact.data.hold_id:
            raise Rejected("data.hold_id: the account holds no lock with this id (released or dropped already?)")
    elif isinstance(fact, LockUndone) and not controls.card_locked:
        raise Rejected("data.lock_command_id: the card is not locked any more")


class CreditAccount:
    """An account's ledger and controls, its stream version, and the rows it has not saved yet."""

    __slots__ = ("account_id", "controls", "features", "last_state", "ledger", "notices", "pending", "version")

    def __init__(self, account_id: str, scored: bool = True) -> None:
        """`scored`: keep the facts as of any instant (a policy that scores accounts reads them)."""
        self.account_id = account_id
        self.ledger = Ledger(account_id)
        self.controls = Controls()
        self.notices = NoticeBook()
        self.features = FeatureState(account_id) if scored else None
        self.version = 0
        self.pending: list[StoredRow] = []
        self.last_state: State | None = None  # the last fact's state while the brake's verdicts in it may change

    @classmethod
    def load(cls, account_id: str, states: Iterable[State], scored: bool = True) -> CreditAccount:
        """The account from its recorded facts (decoded states, in version order)."""
        account = cls(account_id, scored)
        seen: list[State] = []
        for state in states:
            seen.append(state)
            account.replay(state, seen)
        return account

    def replay(self, state: State, history: Sequence[State] = ()) -> None:
        """Apply one recorded fact (a decoded state): the fact to the ledger, its decisions' changes to the controls.

        `history` (the states up to this one) is read only for a retraction, whose ledger is rebuilt.
        """
        fact = load_object(state["fact"])
        if fact.type in RETRACTION_TYPES:
            facts = [load_object(earlier["fact"]) for earlier in history]
            self.ledger = rebuild_ledger(self.account_id, facts, retracted_ids(facts))
        else:
            self.ledger.apply(fact)
        if self.features is not None:
            self.features.add(fact)
        for decision in state.get("decisions", ()):
            changes = decision.get("changes")
            if changes:
                self.controls = self.controls.changed(changes)
            self.notices.note(decision["rule"], decision["facts"], decision.get("command"))
        self.version += 1

    def handle(
        self,
        parsed: ParsedEvent,
        policy: Policy,
        verdicts: Verdicts | None = None,
        history: History | None = None,
        calendar: HolidayCalendar | None = None,
    ) -> list[Decision]:
        """Record a valid inbound event or operator action and the decisions it causes (saved with the batch).

        `verdicts` judges automatic locks (the emergency brake); `history` gives
        the recorded facts a retraction re-derives the account from; `calendar`
        is the holiday calendar in force (the shipped seed when None). Raises
        engine.ledger.Rejected, before anything changes, if the account cannot
        take the event.
        """
        fact = parsed.event
        if isinstance(fact, NoticeOutcomeReported):
            self.notices.check(fact)
        if policy.scoring is not None and self.features is None:
            raise ValueError(f"policy {policy.version} scores accounts: load account {self.account_id} scored")
        if isinstance(fact, RETRACTIONS):
            decisions = self._retract(fact, policy, history() if history else [], calendar)
            if self.features is not None:
                self.features.add(fact)
        else:
            check_action(self.controls, fact)
            before = admit(self.ledger, fact)
            if before is None:
                return []
            if self.features is not None:
                self.features.add(fact)
            decisions = decide(fact, before, self.ledger, self.controls, policy, calendar, self.features, self.notices)
            if verdicts is not None and decisions:
                decisions = guard(decisions, verdicts)
        occurred_at = fact.occurred_at.isoformat() if decisions else ""  # most facts decide nothing
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
                    decision.brake,
                    decision.whole,
                )
            )
        self.version += 1
        state = fact_state(parsed.canonical, policy.version, self.ledger.balances(), stored)
        self.last_state = state if decisions and any(decision.brake for decision in decisions) else None
        self.pending.append((self.account_id, self.version, FACT_TOPIC, orjson.dumps(state)))
        return decisions

    def _retract(
        self, fact: Any, policy: Policy, history: list[Fact], calendar: HolidayCalendar | None
    ) -> list[Decision]:
        """Re-derive the account without the retracted fact; the difference is compensated (engine.retraction)."""
        check_retraction(history, fact)
        if isinstance(fact, LockUndone):
            check_action(self.controls, fact)
        facts = [*history, fact]
        retracted = retracted_ids(facts)
        self.ledger = rebuild_ledger(self.account_id, facts, retracted)
        rederived = rederive_controls(self.account_id, facts, retracted, policy, calendar)
        return decide_retraction(fact, self.ledger, self.controls, rederived, policy, calendar)

    def collect(self) -> list[StoredRow]:
        """The rows recorded since the last collect, to save."""
        rows, self.pending = self.pending, []
        return rows
