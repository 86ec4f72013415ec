"""The shape of what the engine records per account, for readers of the store.

Projections and the relay read the notification log without importing the
engine: these are the topics and fields of the two account events they see.
A `FactRecorded` carries the inbound event (canonical JSON) and the account's
balances right after it; a `Decided` carries one decision and its command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

ACCOUNT_STARTED_TOPIC = "engine.account:CreditAccount.Started"
"""The first event of an account's stream: carries `account_id`, so readers can map originator ids."""
FACT_RECORDED_TOPIC = "engine.account:CreditAccount.FactRecorded"
DECIDED_TOPIC = "engine.account:CreditAccount.Decided"
DAY_RECORDED_TOPIC = "engine.clock:PlatformClock.DayRecorded"


_TYPE_MARK = b'"_type_"'


def event_state(state: bytes, transcode: Callable[[bytes], Any]) -> dict[str, Any]:
    """An event's attributes from its stored state, as `transcode` (eventsourcing's transcoder) gives them.

    Every engine event's state marks one transcoded value, its `timestamp`,
    which readers do not use: such a state is plain JSON for every field they
    read, and orjson parses it without the transcoder's walk. Any other state
    (more marked values) goes through `transcode`.
    """
    body = orjson.loads(state)
    if type(body) is dict and state.count(_TYPE_MARK) == 1 and type(body.get("timestamp")) is dict:
        return body
    decoded: dict[str, Any] = transcode(state)
    return decoded


class Balances(BaseModel):
    """The account's money position after a fact (amounts are exact decimals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overdue_outstanding: Decimal
    outstanding: Decimal
    credit: Decimal
    days_past_due: int
    active_plan_id: str | None
    overdue_bills: int


@dataclass(frozen=True)
class OutboxPage:
    """The commands of a page of recorded decisions (the outbox), and the position after the page."""

    commands: list[tuple[int, dict[str, Any]]]  # (notification id, command) in emission order
    decisions: int  # decisions read, with or without a command
    next_position: int


class RecordedDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    rule: str
    policy_version: str
    cause_event_id: str
    occurred_at: str
    facts: dict[str, Any]
    changes: dict[str, Any]
    command: dict[str, Any] | None


def account_status(card_locked: bool, line_suspended: bool, overdue_outstanding: Decimal) -> str:
    """One word for an account: locked, suspended (plan path), overdue or current."""
    if card_locked:
        return "locked"
    if line_suspended:
        return "suspended"
    if overdue_outstanding > 0:
        return "overdue"
    return "current"


class Bucket(StrEnum):
    """Delinquency buckets by days past due (an enum, so the API's schema lists them)."""

    CURRENT = "current"
    DAYS_1_30 = "1-30"
    DAYS_31_60 = "31-60"
    DAYS_61_90 = "61-90"
    DAYS_91_180 = "91-180"
    DAYS_180_PLUS = "180+"


class StatusWord(StrEnum):
    """The one word `account_status` gives an account."""

    LOCKED = "locked"
    SUSPENDED = "suspended"
    OVERDUE = "overdue"
    CURRENT = "current"


DELINQUENCY_BUCKETS = tuple(bucket.value for bucket in Bucket)


def delinquency_bucket(days_past_due: int) -> str:
    """The industry's buckets: current, 1-30, 31-60, 61-90, 91-180, 180+."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    if days_past_due <= 180:
        return "91-180"
    return "180+"
