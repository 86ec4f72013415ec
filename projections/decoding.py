"""Reading the engine's stored events without importing the engine.

The store keeps each event's state as eventsourcing's JSON transcoding (with
UUID, Decimal and datetime objects marked by `_type_`). We build the same
transcoder here and turn a notification into one of the `projections.base`
event types; the topics and fields are the ones `events.recorded` documents.

Decoding runs for every stored event a rebuild reads, so it takes the short
way where it is exact: the fields we read are plain JSON (only the event's
`timestamp`, which we do not read, is transcoded), so orjson parses the state
and the standard transcoder is kept for a state that marks anything else.
Recorded facts and balances were validated on the way in; they are
validated again here (the models are the contract) but parsed only once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from events.inbound import DayClosed, load_canonical, load_object
from events.recorded import (
    ACCOUNT_STARTED_TOPIC,
    DAY_RECORDED_TOPIC,
    DECIDED_TOPIC,
    FACT_RECORDED_TOPIC,
    Balances,
    RecordedDecision,
    event_state,
)
from projections.base import AccountStarted, DayRecorded, DecisionRecorded, FactRecorded, Recorded

TOPICS = (ACCOUNT_STARTED_TOPIC, FACT_RECORDED_TOPIC, DECIDED_TOPIC, DAY_RECORDED_TOPIC)


class StoredNotification(Protocol):
    """What we need of eventsourcing's `Notification`."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class RawNotification(NamedTuple):
    """A stored event as read from the store's table, for readers that skip eventsourcing's objects."""

    id: int
    originator_id: UUID | str
    topic: str
    state: bytes


class UnresolvedAccount(RuntimeError):
    """An event whose account is unknown: its stream's first event was never indexed."""


def make_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


_BALANCES_CACHE = 65_536
_ORIGINATORS_CACHE = 262_144


class Decoder:
    """Notification -> recorded event; `account_of` maps an originator id to its account."""

    def __init__(self) -> None:
        self.transcoder = make_transcoder()
        # Balances are immutable and repeat a lot (every current account's are zeros).
        self._balances: dict[tuple[tuple[str, Any], ...], Balances] = {}
        self._originators: dict[UUID | str, str] = {}  # a stream's events come many times

    def body(self, state: bytes) -> dict[str, Any]:
        """The event's attributes; what the transcoder gives for every field we read."""
        return event_state(state, self.transcoder.decode)

    def balances(self, raw: dict[str, Any]) -> Balances:
        try:
            key = tuple(raw.items())
            cached = self._balances.get(key)
        except TypeError:  # an unhashable value: not a state the engine writes, but validate it all the same
            return Balances.model_validate(raw)
        if cached is None:
            if len(self._balances) >= _BALANCES_CACHE:
                self._balances.clear()
            cached = self._balances[key] = Balances.model_validate(raw)
        return cached

    def decode(self, notification: StoredNotification, account_of: Callable[[str], str | None]) -> Recorded | None:
        topic = notification.topic
        if topic not in TOPICS:
            return None
        body = self.body(notification.state)
        originator = self._originators.get(notification.originator_id)
        if originator is None:
            if len(self._originators) >= _ORIGINATORS_CACHE:
                self._originators.clear()
            originator = self._originators[notification.originator_id] = originator_key(notification.originator_id)
        position = notification.id
        if topic == FACT_RECORDED_TOPIC:
            fact = orjson.loads(body["fact"])
            known = fact.get("account_id")  # DayClosed, brought to an account, names none
            return FactRecorded(
                position,
                known or _resolve(account_of, originator, position),
                partial(load_object, fact),
                str(body["policy_version"]),
                self.balances(body["balances"]),
            )
        if topic == ACCOUNT_STARTED_TOPIC:
            return AccountStarted(position, originator, str(body["account_id"]))
        if topic == DAY_RECORDED_TOPIC:
            fact = load_canonical(body["fact"])
            assert isinstance(fact, DayClosed)
            return DayRecorded(position, date.fromisoformat(body["business_date"]), fact)
        decision = RecordedDecision.model_validate(body)
        command_account = decision.command.get("account_id") if decision.command else None
        account = str(command_account) if command_account else _resolve(account_of, originator, position)
        return DecisionRecorded(position, account, decision)


def originator_key(originator_id: UUID | str) -> str:
    """The stream's UUID as 32 lowercase hex digits (how the SQLite store already writes it)."""
    if isinstance(originator_id, UUID):
        return originator_id.hex
    if len(originator_id) == 32 and _HEX.fullmatch(originator_id):
        return originator_id
    return UUID(str(originator_id)).hex


_HEX = re.compile(r"[0-9a-f]{32}")


def _resolve(account_of: Callable[[str], str | None], originator: str, position: int) -> str:
    account = account_of(originator)
    if account is None:
        raise UnresolvedAccount(f"notification {position}: no account known for stream {originator}")
    return account
