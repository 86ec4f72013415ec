"""A shadow account: one account followed on live traffic under a candidate policy, beside the active one.

Each fact the engine records is applied again here: to the ledger (the facts
are the same on both sides), to the controls as the active policy decided
(its recorded decisions) and to the controls as the candidate decides, in
memory. Nothing is recorded in the store and no command is emitted: the
shadow's would-be decisions go to a read model (adapters.shadow).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from engine.account import CreditAccount, admit
from engine.audit import CalendarFor, cited_calendar
from engine.business_days import HolidayCalendar
from engine.controls import Controls, encode
from engine.ledger import Ledger
from engine.notices import NoticeBook
from engine.policy import Policy
from engine.rules import decide
from engine.scoring.features import FeatureState
from events.inbound import AccountOpened, load_object
from events.recorded import State, recorded_decisions


def controls_json(controls: Controls) -> dict[str, Any]:
    """Every control in the JSON form decisions record (Controls().changed() reads it back)."""
    return {f.name: encode(getattr(controls, f.name)) for f in fields(Controls)}


@dataclass
class Applied:
    """What one fact caused on each side, with the local date of its cause."""

    day: date
    recorded: list[dict[str, Any]]
    candidate: list[dict[str, Any]]


class ShadowAccount:
    """A candidate that scores accounts scores them on the account's features as of each fact; a notice
    outcome is answered from the notices the account was really sent (its recorded decisions)."""

    __slots__ = ("account_id", "candidate", "features", "ledger", "notices", "recorded")

    def __init__(
        self,
        account_id: str,
        ledger: Ledger,
        recorded: Controls,
        candidate: Controls,
        features: FeatureState | None = None,
        notices: NoticeBook | None = None,
    ) -> None:
        self.account_id = account_id
        self.ledger = ledger
        self.recorded = recorded
        self.candidate = candidate
        self.features = FeatureState(account_id) if features is None else features
        self.notices = NoticeBook() if notices is None else notices

    @classmethod
    def resume(cls, account_id: str, earlier: Iterable[State], candidate: dict[str, Any] | None) -> ShadowAccount:
        """The account before its next fact: its earlier facts and recorded decisions, and the candidate's
        controls as the shadow left them (None: the shadow has not seen the account, so they are the recorded)."""
        account = CreditAccount(account_id)
        for state in earlier:
            account.replay(state)
        proposed = account.controls if candidate is None else Controls().changed(candidate)
        return cls(account_id, account.ledger, account.controls, proposed, account.features, account.notices)

    def apply(
        self, state: State, policy: Policy, calendar_for: CalendarFor, latest_calendar: HolidayCalendar
    ) -> Applied:
        fact = load_object(state["fact"])
        zone = ZoneInfo(fact.data.timezone) if isinstance(fact, AccountOpened) else self.ledger.timezone
        day = fact.occurred_at.astimezone(zone).date()
        before = admit(self.ledger, fact)
        recorded = list(recorded_decisions(self.account_id, state))
        for decision in recorded:
            self.recorded = self.recorded.changed(decision["changes"])
        proposed: list[dict[str, Any]] = []
        if before is not None:
            self.features.add(fact)
            cited = cited_calendar(state)
            calendar = latest_calendar if cited is None else calendar_for(cited)
            for found in decide(
                fact, before, self.ledger, self.candidate, policy, calendar, self.features, self.notices
            ):
                self.candidate = self.candidate.changed(found.changes)
                proposed.append(
                    {
                        "rule": found.rule,
                        "cause_event_id": fact.event_id,
                        "occurred_at": fact.occurred_at.isoformat(),
                        "facts": found.facts,
                        "changes": found.changes,
                        "command": found.command,
                    }
                )
        for decision in recorded:  # after the candidate decided the fact, as the engine notes its own
            self.notices.note(decision["rule"], decision["facts"], decision.get("command"))
        return Applied(day, recorded, proposed)
