"""Operator actions: what a person with an API key did, recorded as facts like billing's events.

An action is not part of the inbound contract: upstream cannot publish one
(`events.inbound.parse_event` refuses these types), only the operators'
commands and the HTTP API build them, from an authenticated key. Each is
recorded on the stream it acts on (an account's, or the platform clock's)
through the same engine path as an inbound event, with:

- `event_id`: derived from the request's idempotency key, so a repeated
  request (a double click, a retry) is the same event and acts once;
- `occurred_at`: the request's time, recorded as the event's time, so replay
  never reads a clock;
- `data.actor`, `data.key_id`, `data.role`: who acted (the key's name, its id
  and role; never the key).

Its deduplication digest leaves the time out (`action_digest`): the same
request sent again later is a duplicate, not a conflicting payload.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field, ValidationError

from events.canonical import canonical_bytes, payload_digest
from events.inbound import (
    AccountEvent,
    DayClosed,
    InvalidEvent,
    ParsedEvent,
    _AccountEnvelope,
    _Envelope,
    _Strict,
    describe_errors,
)
from events.types import EventId, IsoDate, Reference, StrictBoolean, Text, Timestamp

ACTION_NAMESPACE = uuid.UUID("3b0f6f0e-7c55-4e6a-9a41-5d2f1c8e9b27")
ACTION_PREFIX = "op-"
"""Every action's event_id starts so (`op-` and a UUIDv5 of its idempotency key)."""


class _Actor(_Strict):
    actor: Reference = Field(description="the name of the API key that acted")
    key_id: Reference = Field(description="the id of that key (never the key)")
    role: Literal["operator", "admin"]


class HoldReleasedData(_Actor):
    hold_id: Reference
    reason: Text | None = None


class HoldDroppedData(_Actor):
    hold_id: Reference
    reason: Text


class ReviewDecidedData(_Actor):
    request_id: Reference
    approved: StrictBoolean
    note: Text | None = None


class LockUndoneData(_Actor):
    lock_command_id: Reference = Field(description="the LockCard being undone")
    retracted_event_id: EventId = Field(description="the lock's cause, treated as retracted")
    window_from: Timestamp
    window_to: Timestamp
    rule: Reference | None = None
    reason: Text


class ClockCorrectedData(_Actor):
    business_date: IsoDate
    reason: Text


class HoldReleased(_AccountEnvelope):
    type: Literal["HoldReleased"]
    data: HoldReleasedData


class HoldDropped(_AccountEnvelope):
    type: Literal["HoldDropped"]
    data: HoldDroppedData


class ReviewDecided(_AccountEnvelope):
    """An operator's decision on an unlock review: the policy treats it exactly as `UnlockReviewed`."""

    type: Literal["ReviewDecided"]
    data: ReviewDecidedData


class LockUndone(_AccountEnvelope):
    """One account of a bulk undo: the lock's cause is treated as retracted (as `FactRetracted`)."""

    type: Literal["LockUndone"]
    data: LockUndoneData


class ClockCorrected(_Envelope):
    """An admin sets the platform clock back to the true business date (recorded on the clock's stream)."""

    type: Literal["ClockCorrected"]
    data: ClockCorrectedData


AccountAction = HoldReleased | HoldDropped | ReviewDecided | LockUndone
OperatorAction = AccountAction | ClockCorrected
Fact = AccountEvent | DayClosed | OperatorAction
"""What the store records as a fact: a contract event or an operator action."""
ACTIONS = (HoldReleased, HoldDropped, ReviewDecided, LockUndone, ClockCorrected)
"""The action classes, for isinstance."""
ACTION_TYPES: dict[str, type[_Envelope]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in ACTIONS
}


def action_event_id(kind: str, idempotency_key: str) -> str:
    """The event_id of an action: the same key (and kind) always gives the same id."""
    return ACTION_PREFIX + str(uuid.uuid5(ACTION_NAMESPACE, f"{kind}\x1f{idempotency_key}"))


def action_digest(canonical_without_time: str) -> bytes:
    return payload_digest(canonical_without_time.encode())


def build_action(
    kind: str, idempotency_key: str, occurred_at: str, data: dict[str, Any], account_id: str | None = None
) -> ParsedEvent:
    """A validated action ready for the engine; InvalidEvent (naming the field) if a value is refused."""
    model = ACTION_TYPES.get(kind)
    if model is None:
        raise InvalidEvent(f"type: not an operator action; expected one of {', '.join(ACTION_TYPES)}")
    obj: dict[str, Any] = {
        "event_id": action_event_id(kind, idempotency_key),
        "type": kind,
        "occurred_at": occurred_at,
        "schema_version": 1,
        "data": data,
    }
    if account_id is not None:
        obj["account_id"] = account_id
    try:
        action = model.model_validate(obj)
    except ValidationError as error:
        raise InvalidEvent(describe_errors(error), str(obj["event_id"])) from None
    canonical, digest = recorded_form(action)  # type: ignore[arg-type]
    return ParsedEvent(action, canonical.decode(), digest)  # type: ignore[arg-type]


def digest_of(action: _Envelope) -> bytes:
    """The deduplication digest of an action: its canonical JSON without its time."""
    return action_digest(action.model_dump_json(exclude={"occurred_at"}))


def recorded_form(fact: Fact) -> tuple[bytes, bytes]:
    """A fact's canonical JSON and the deduplication digest the store keeps for it, the JSON encoded once.

    The one place that decides the digest: an action's leaves its time out (`digest_of`), so a request sent
    again later is a duplicate; every other fact's covers its canonical JSON. The engine records a sealed
    event under it (adapters.privacy.sealer), reconcile computes it again from every stored fact.
    """
    canonical = canonical_bytes(fact)
    return canonical, digest_of(fact) if isinstance(fact, ACTIONS) else payload_digest(canonical)


def recorded_digest(fact: Fact) -> bytes:
    """The deduplication digest the store keeps for a recorded fact (`recorded_form`).

    Reconcile asks it of every recorded fact: an event's canonical JSON is written by events.canonical, not
    pydantic's serializer (the same bytes, tests/unit/test_canonical.py).
    """
    return recorded_form(fact)[1]
