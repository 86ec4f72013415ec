"""Reading the engine's stored events without importing the engine.

Each stored event of an account is one recorded fact with the decisions it
caused (`events.recorded`); a notification becomes a `FactRecorded` and one
`DecisionRecorded` per decision, numbered by `seq` (0 the fact, then 1..n),
so a read-model row keyed by (position, seq) is one per recorded event. The
clock's stored events become `DayRecorded`. The stream id is the account id.

Decoding runs for every stored event a rebuild reads: the state is parsed
once with orjson, the fact is rebuilt only when a projection first reads it,
and the balances, which repeat a lot, are validated once per distinct value.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple, Protocol

from events.inbound import DayClosed, load_object
from events.recorded import (
    CLOCK_STREAM,
    DAY_TOPIC,
    FACT_TOPIC,
    Balances,
    RecordedDecision,
    decode,
    expand_decision,
)
from projections.base import DayRecorded, DecisionRecorded, FactRecorded, Recorded

TOPICS = (FACT_TOPIC, DAY_TOPIC)


class StoredNotification(Protocol):
    """What we need of a stored event read from the notification log."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> Any: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class RawNotification(NamedTuple):
    """A stored event as read from the store's table."""

    id: int
    originator_id: str
    topic: str
    state: bytes


_BALANCES_CACHE = 65_536


def _balances(
    overdue: str, outstanding: str, credit: str, days_past_due: int, plan: str | None, overdue_bills: int
) -> Balances:
    """The recorded balances (in the order of BALANCE_FIELDS, amounts as the ledger wrote them), not validated
    again: what `Balances.model_validate` would give for the engine's own output, at a fraction of its cost."""
    return Balances.model_construct(
        overdue_outstanding=Decimal(overdue),
        outstanding=Decimal(outstanding),
        credit=Decimal(credit),
        days_past_due=days_past_due,
        active_plan_id=plan,
        overdue_bills=overdue_bills,
    )


class Decoder:
    """Notification -> the recorded events it holds."""

    def __init__(self) -> None:
        # Balances are immutable and repeat a lot (every current account's are zeros).
        self._balances: dict[tuple[Any, ...], Balances] = {}

    def balances(self, raw: Sequence[Any]) -> Balances:
        key = tuple(raw)
        cached = self._balances.get(key)
        if cached is None:
            if len(self._balances) >= _BALANCES_CACHE:
                self._balances.clear()
            cached = self._balances[key] = _balances(*raw)
        return cached

    def decode(self, notification: StoredNotification) -> list[Recorded]:
        topic = notification.topic
        if topic not in TOPICS:
            return []
        state = decode(notification.state)
        fact = state["fact"]
        position = notification.id
        stream = str(notification.originator_id)
        if topic == DAY_TOPIC or stream == CLOCK_STREAM:
            day = load_object(fact)
            assert isinstance(day, DayClosed)
            return [DayRecorded(position, day.data.business_date, day)]
        policy = state["policy"]
        found: list[Recorded] = [
            FactRecorded(position, 0, stream, partial(load_object, fact), policy, self.balances(state["balances"]))
        ]
        event_id, occurred_at = fact["event_id"], fact["occurred_at"]
        for seq, stored in enumerate(state.get("decisions", ()), start=1):
            full = expand_decision(stored, stream, policy, event_id, occurred_at)
            # Trusted: the engine wrote it (and validated the command) when it decided; a rebuild reads it again.
            found.append(DecisionRecorded(position, seq, stream, RecordedDecision.model_construct(**full)))
        return found
