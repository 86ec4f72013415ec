"""Reading the engine's stored events without importing the engine.

Each stored event of an account is one recorded fact with the decisions it
caused (`events.recorded`); a notification becomes a `FactRecorded` and one
`DecisionRecorded` per decision, numbered by `seq` (0 the fact, then 1..n),
so a read-model row keyed by (position, seq) is one per recorded event. The
clock's stored events become `DayRecorded`. The stream id is the account id.

Decoding runs for every stored event a rebuild reads: the state is parsed
once with orjson, the fact is rebuilt as its model only when a projection
first reads it, decisions and balances are plain tuples (the engine validated
them when it recorded them), the balances, which repeat a lot, built once per
distinct value; kinds that no projection of the process reads are skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple, Protocol

from events.inbound import DayClosed, load_object
from events.recorded import (
    CLOCK_STREAM,
    DAY_TOPIC,
    FACT_TOPIC,
    Balances,
    decode,
    read_decision,
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


class Decoder:
    """Notification -> the recorded events it holds (of the kinds asked for: all by default)."""

    def __init__(self, kinds: Collection[type[Recorded]] = (FactRecorded, DecisionRecorded, DayRecorded)) -> None:
        # Balances are immutable and repeat a lot (every current account's are zeros).
        self._balances: dict[tuple[Any, ...], Balances] = {}
        self._facts = FactRecorded in kinds
        self._decisions = DecisionRecorded in kinds
        self._days = DayRecorded in kinds

    def balances(self, raw: Sequence[Any]) -> Balances:
        """The recorded balances (in the order of BALANCE_FIELDS, amounts as the ledger wrote them)."""
        key = tuple(raw)
        cached = self._balances.get(key)
        if cached is None:
            if len(self._balances) >= _BALANCES_CACHE:
                self._balances.clear()
            overdue, outstanding, credit, days_past_due, plan, overdue_bills = raw
            cached = self._balances[key] = Balances(
                Decimal(overdue), Decimal(outstanding), Decimal(credit), days_past_due, plan, overdue_bills
            )
        return cached

    def decode(self, notification: StoredNotification) -> list[Recorded]:
        topic = notification.topic
        if topic not in TOPICS:
            return []
        stream = str(notification.originator_id)
        day = topic == DAY_TOPIC or stream == CLOCK_STREAM
        if not (self._days if day else self._facts or self._decisions):
            return []  # nothing here for these projections: not even parsed
        state = decode(notification.state)
        fact = state["fact"]
        position = notification.id
        if day:
            closed = load_object(fact)
            assert isinstance(closed, DayClosed)
            return [DayRecorded(position, closed.data.business_date, closed)]
        policy = state["policy"]
        found: list[Recorded] = []
        if self._facts:
            balances = self.balances(state["balances"])
            found.append(FactRecorded(position, 0, stream, partial(load_object, fact), policy, balances, fact))
        if self._decisions and "decisions" in state:
            event_id, occurred_at = fact["event_id"], fact["occurred_at"]
            for seq, stored in enumerate(state["decisions"], start=1):
                decision = read_decision(stored, stream, policy, event_id, occurred_at)
                found.append(DecisionRecorded(position, seq, stream, decision))
        return found
