"""Reading the engine's stored events without importing the engine.

The store keeps each event's state as eventsourcing's JSON transcoding (with
UUID, Decimal and datetime objects marked by `_type_`). We build the same
transcoder here and turn a notification into one of the `projections.base`
event types; the topics and fields are the ones `events.recorded` documents.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from events.inbound import DayClosed, load_canonical
from events.recorded import (
    ACCOUNT_STARTED_TOPIC,
    DAY_RECORDED_TOPIC,
    DECIDED_TOPIC,
    FACT_RECORDED_TOPIC,
    Balances,
    RecordedDecision,
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


class UnresolvedAccount(RuntimeError):
    """An event whose account is unknown: its stream's first event was never indexed."""


def make_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


class Decoder:
    """Notification -> recorded event; `account_of` maps an originator id to its account."""

    def __init__(self) -> None:
        self.transcoder = make_transcoder()

    def decode(self, notification: StoredNotification, account_of: Callable[[str], str | None]) -> Recorded | None:
        topic = notification.topic
        if topic not in TOPICS:
            return None
        body: dict[str, Any] = self.transcoder.decode(notification.state)
        originator = originator_key(notification.originator_id)
        position = notification.id
        if topic == ACCOUNT_STARTED_TOPIC:
            return AccountStarted(position, originator, str(body["account_id"]))
        if topic == DAY_RECORDED_TOPIC:
            fact = load_canonical(body["fact"])
            assert isinstance(fact, DayClosed)
            return DayRecorded(position, date.fromisoformat(body["business_date"]), fact)
        if topic == FACT_RECORDED_TOPIC:
            fact = load_canonical(body["fact"])
            known = None if isinstance(fact, DayClosed) else fact.account_id
            return FactRecorded(
                position,
                known or _resolve(account_of, originator, position),
                fact,
                str(body["policy_version"]),
                Balances.model_validate(body["balances"]),
            )
        decision = RecordedDecision.model_validate(body)
        command_account = decision.command.get("account_id") if decision.command else None
        account = str(command_account) if command_account else _resolve(account_of, originator, position)
        return DecisionRecorded(position, account, decision)


def originator_key(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex


def _resolve(account_of: Callable[[str], str | None], originator: str, position: int) -> str:
    account = account_of(originator)
    if account is None:
        raise UnresolvedAccount(f"notification {position}: no account known for stream {originator}")
    return account
