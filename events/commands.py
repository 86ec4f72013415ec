"""Outbound commands: what card and payment systems are told to do.

Every command carries a stable `command_id` (the same on every replay and
retry), the policy version and rule that decided it, the inbound event that
triggered it and that event's time, so downstream can deduplicate and audit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from events.types import CommandTime, Money, parse_money, parse_timestamp

COMMAND_NAMESPACE = uuid.UUID("6f1c9a52-3d1e-4c55-9a37-0f2b8e0c7d11")


class CommandType(StrEnum):
    LOCK_CARD = "LockCard"
    UNLOCK_CARD = "UnlockCard"
    SUSPEND_CREDIT_LINE = "SuspendCreditLine"
    RESTORE_CREDIT_LINE = "RestoreCreditLine"
    ADJUST_CREDIT_LIMIT = "AdjustCreditLimit"
    SEND_NOTICE = "SendNotice"


def command_id(account_id: str, cause_event_id: str, rule: str, kind: str, policy_version: str) -> str:
    """Derive the id from what decided the command, so a replay yields the same id."""
    name = "\x1f".join((account_id, cause_event_id, rule, kind, policy_version))
    return str(uuid.uuid5(COMMAND_NAMESPACE, name))


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str
    account_id: str
    policy_version: str
    rule: str
    cause_event_id: str
    occurred_at: CommandTime = Field(description="event time of the triggering inbound event")


class LockCard(_Command):
    type: Literal["LockCard"] = "LockCard"


class UnlockCard(_Command):
    type: Literal["UnlockCard"] = "UnlockCard"


class SuspendCreditLine(_Command):
    type: Literal["SuspendCreditLine"] = "SuspendCreditLine"


class RestoreCreditLine(_Command):
    type: Literal["RestoreCreditLine"] = "RestoreCreditLine"


class AdjustCreditLimit(_Command):
    type: Literal["AdjustCreditLimit"] = "AdjustCreditLimit"
    new_limit: Money


class SendNotice(_Command):
    type: Literal["SendNotice"] = "SendNotice"
    template: str
    channel: str
    deliver_at: CommandTime = Field(
        description="earliest delivery time: the event time, or 08:00 local after quiet hours"
    )


Command = Annotated[
    LockCard | UnlockCard | SuspendCreditLine | RestoreCreditLine | AdjustCreditLimit | SendNotice,
    Field(discriminator="type"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    CommandType.ADJUST_CREDIT_LIMIT: ("new_limit",),
    CommandType.SEND_NOTICE: ("template", "channel", "deliver_at"),
}


def command_json(
    kind: CommandType,
    *,
    command_id: str,
    account_id: str,
    policy_version: str,
    rule: str,
    cause_event_id: str,
    occurred_at: datetime,
    **extra: Any,
) -> dict[str, Any]:
    """A command in JSON form: exactly what validating it with the models and dumping it in JSON mode gives.

    Built directly because the policy emits commands on the hot path from
    values it already holds typed; the checks the models would make on those
    values (positive money, offset-aware times, no unknown field) are made
    here too. tests/unit/test_commands.py holds the two equal.
    """
    expected = _EXTRA_FIELDS.get(kind, ())
    if set(extra) != set(expected):
        raise TypeError(f"{kind.value} takes fields {expected}, got {tuple(extra)}")
    payload: dict[str, Any] = {
        "command_id": command_id,
        "account_id": account_id,
        "policy_version": policy_version,
        "rule": rule,
        "cause_event_id": cause_event_id,
        "occurred_at": parse_timestamp(occurred_at).isoformat(),
        "type": kind.value,
    }
    if kind is CommandType.ADJUST_CREDIT_LIMIT:
        payload["new_limit"] = str(parse_money(extra["new_limit"]))
    elif kind is CommandType.SEND_NOTICE:
        payload["template"] = _text(extra["template"])
        payload["channel"] = _text(extra["channel"])
        payload["deliver_at"] = parse_timestamp(extra["deliver_at"]).isoformat()
    return payload


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def command_from_json(data: dict[str, object]) -> Command:
    return COMMAND_ADAPTER.validate_python(data)
