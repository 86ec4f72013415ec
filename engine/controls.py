"""What the policy has decided about an account: locks, limit, score, review.

Controls change only through recorded decisions, each naming the fields it
sets. Values travel in JSON form inside the decision so the store needs no
custom codecs, and are typed again here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

JSONValue = str | int | bool | None | list[str] | dict[str, Any]


@dataclass(frozen=True)
class Controls:
    card_locked: bool = False
    line_suspended: bool = False
    credit_limit: Decimal = Decimal("0")
    score: int = 0
    bureau_flag: bool = False
    review_id: str | None = None
    review_deadline: date | None = None
    review_escalated: bool = False
    recent_notices: tuple[datetime, ...] = ()
    notices_dropped: int = 0
    held: dict[str, Any] | None = None  # a held automatic lock: {"id", "commands", "brake"} (engine.brake)
    # Set only by policies with the rules of default-v2 (engine.watch, engine.outcomes, engine.rules):
    risk_tier: str | None = None  # the scorecard's tier the last time the early-warning rules scored the account
    watch_since: datetime | None = None  # on the watch list since (event time); None: not watched
    watch_reason: str | None = None  # the signal that put it there
    reminded_through: date | None = None  # the due date of the latest bill a pre-due reminder was sent for
    review_withheld: str | None = None  # the review whose automatic approval the score withheld
    promise_id: str | None = None  # the open promise to pay: the event_id of its NoticeOutcomeReported
    promise_notice: str | None = None  # the command_id of the notice it answered
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    promise_payments_before: int = 0  # repayments recorded before the promise (those after it count toward it)

    @property
    def review_open(self) -> bool:
        return self.review_id is not None

    def changed(self, changes: dict[str, Any]) -> Controls:
        """These controls with `changes` (JSON form) applied.

        What dataclasses.replace() does, without its per-call field inspection:
        this runs for every recorded decision, on every load of an account.
        """
        if not changes:
            return self
        new = object.__new__(Controls)
        state = new.__dict__
        state.update(self.__dict__)
        for name, value in changes.items():
            state[name] = _DECODERS[name](value)
        return new


def _optional(decode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else decode(value)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "card_locked": bool,
    "line_suspended": bool,
    "credit_limit": Decimal,
    "score": int,
    "bureau_flag": bool,
    "review_id": _optional(str),
    "review_deadline": _optional(date.fromisoformat),
    "review_escalated": bool,
    "recent_notices": lambda values: tuple(datetime.fromisoformat(v) for v in values),
    "notices_dropped": int,
    "held": _optional(dict),
    "risk_tier": _optional(str),
    "watch_since": _optional(datetime.fromisoformat),
    "watch_reason": _optional(str),
    "reminded_through": _optional(date.fromisoformat),
    "review_withheld": _optional(str),
    "promise_id": _optional(str),
    "promise_notice": _optional(str),
    "promise_amount": _optional(Decimal),
    "promise_date": _optional(date.fromisoformat),
    "promise_payments_before": int,
}
assert set(_DECODERS) == {f.name for f in fields(Controls)}


def encode(value: object) -> JSONValue:
    """The JSON form of a control value, as decisions record it."""
    if isinstance(value, (Decimal, date)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, tuple):
        return [v.isoformat() for v in value]
    assert value is None or isinstance(value, (str, int, bool, dict))
    return value
