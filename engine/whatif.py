"""What-if: an account's recorded history replayed under a candidate policy, beside what was decided.

The candidate takes over at the start of the period: facts before it apply to
the ledger and their recorded decisions to the controls (the account as it
really was), facts within it are decided again under the candidate, in a
sandbox (nothing is recorded, nothing is emitted), and facts after it are not
read. What is compared is the substance of each decision: its cause, rule,
the controls it set and its command's type and fields, without ids and
version strings (a candidate identical but for its name differs in nothing).
A candidate that scores accounts scores them as the engine does, on the
account's features as of each fact (its scorecard resolved from the store);
notice outcomes are answered from the notices the account was really sent.

One limit of replaying an account alone: the closed days it receives are
the ones its recorded history received (the clock brings a day only to the
accounts whose recorded review fell due), so a review that only the
candidate opens is escalated only on those days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from engine.account import admit
from engine.audit import CalendarFor, cited_calendar
from engine.business_days import HolidayCalendar
from engine.controls import Controls
from engine.ledger import Ledger
from engine.notices import NoticeBook
from engine.policy import Policy
from engine.rules import decide
from engine.scoring.features import FeatureState
from events.inbound import AccountOpened, load_object
from events.recorded import State, recorded_decisions

_IDENTITY = ("command_id", "account_id", "policy_version", "rule", "cause_event_id", "occurred_at")
LOCK = "LockCard"


@dataclass(frozen=True)
class Period:
    """Local calendar dates (in each account's time zone) of the facts decided again, both ends included."""

    start: date | None = None
    end: date | None = None

    def before(self, day: date) -> bool:
        return self.start is not None and day < self.start

    def after(self, day: date) -> bool:
        return self.end is not None and day > self.end


@dataclass(frozen=True)
class Standing:
    """An account's controls at the end of the period: what portfolio totals add up."""

    card_locked: bool
    line_suspended: bool
    credit_limit: Decimal
    bureau_flag: bool
    score: int

    @classmethod
    def of(cls, controls: Controls) -> Standing:
        return cls(
            controls.card_locked, controls.line_suspended, controls.credit_limit, controls.bureau_flag, controls.score
        )


@dataclass
class Side:
    """One side of the comparison (what was recorded, or what the candidate decides) for one account."""

    decisions: list[str] = field(default_factory=list)  # each decision's substance, canonical JSON
    commands: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (type, rule, fields) in order
    locks: list[date] = field(default_factory=list)  # local date of each LockCard's cause
    standing: Standing | None = None

    def add(self, decision: dict[str, Any], day: date) -> None:
        command = decision["command"]
        fields = None if command is None else {k: v for k, v in command.items() if k not in _IDENTITY}
        substance = {
            "cause": decision["cause_event_id"],
            "rule": decision["rule"],
            "changes": decision["changes"],
            "command": fields,
        }
        self.decisions.append(orjson.dumps(substance, option=orjson.OPT_SORT_KEYS).decode())
        if fields is not None:
            self.commands.append((str(fields["type"]), str(decision["rule"]), fields))
            if fields["type"] == LOCK:
                self.locks.append(day)


@dataclass
class AccountOutcome:
    """What the recorded history and the candidate decided for one account within the period."""

    account_id: str
    facts: int = 0  # facts read (before and within the period)
    decided: int = 0  # facts decided again under the candidate
    recorded: Side = field(default_factory=Side)
    candidate: Side = field(default_factory=Side)

    @property
    def differs(self) -> bool:
        return self.recorded.decisions != self.candidate.decisions or self.recorded.standing != self.candidate.standing


def compare_account(
    account_id: str,
    states: Iterable[State],
    candidate: Policy,
    calendar_for: CalendarFor,
    latest_calendar: HolidayCalendar,
    period: Period = Period(),
) -> AccountOutcome:
    """Replay one account's recorded facts with the candidate deciding within `period`."""
    outcome = AccountOutcome(account_id)
    ledger, recorded, proposed = Ledger(account_id), Controls(), Controls()
    features = FeatureState(account_id)  # the default probability, for a candidate that scores accounts
    notices = NoticeBook()  # what the account was sent, as recorded: the notices its outcome facts cite
    for state in states:
        fact = load_object(state["fact"])
        zone = ZoneInfo(fact.data.timezone) if isinstance(fact, AccountOpened) else ledger.timezone
        day = fact.occurred_at.astimezone(zone).date()
        if period.after(day):
            break
        outcome.facts += 1
        before = admit(ledger, fact)
        if before is not None:
            features.add(fact)
        decisions = list(recorded_decisions(account_id, state))
        for decision in decisions:
            recorded = recorded.changed(decision["changes"])
        if period.before(day):
            proposed = recorded
            _note(notices, decisions)
            continue
        outcome.decided += 1
        for decision in decisions:
            outcome.recorded.add(decision, day)
        if before is None:
            _note(notices, decisions)
            continue
        cited = cited_calendar(state)
        calendar = latest_calendar if cited is None else calendar_for(cited)
        occurred_at = fact.occurred_at.isoformat()
        for found in decide(fact, before, ledger, proposed, candidate, calendar, features, notices):
            proposed = proposed.changed(found.changes)
            outcome.candidate.add(
                {"cause_event_id": fact.event_id, "occurred_at": occurred_at, **_as_dict(found)},
                day,
            )
        _note(notices, decisions)  # after the candidate decided the fact, as the engine notes its own
    outcome.recorded.standing = Standing.of(recorded)
    outcome.candidate.standing = Standing.of(proposed)
    return outcome


def _note(notices: NoticeBook, decisions: list[dict[str, Any]]) -> None:
    for decision in decisions:
        notices.note(decision["rule"], decision["facts"], decision.get("command"))


def _as_dict(decision: Any) -> dict[str, Any]:
    return {"rule": decision.rule, "changes": decision.changes, "command": decision.command}
