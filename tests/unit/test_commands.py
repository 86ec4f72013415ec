"""Commands built directly on the hot path equal what the pydantic models validate and dump."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

from events.commands import COMMAND_ADAPTER, CommandType, command_json

CST = timezone(timedelta(hours=8))
BASE: dict[str, Any] = {
    "command_id": "c-1",
    "account_id": "ACC1",
    "policy_version": "default-v1",
    "rule": "lock.overdue",
    "cause_event_id": "e-1",
    "occurred_at": datetime(2026, 3, 10, 2, 30, 0, 123000, tzinfo=CST),
}
EXTRA: dict[CommandType, dict[str, Any]] = {
    CommandType.ADJUST_CREDIT_LIMIT: {"new_limit": "2500.50"},
    CommandType.SEND_NOTICE: {
        "template": "overdue_d3",
        "channel": "sms",
        "deliver_at": datetime(2026, 3, 10, 8, 0, tzinfo=CST),
    },
}


def _by_models(kind: CommandType, **fields: Any) -> dict[str, Any]:
    command = COMMAND_ADAPTER.validate_python({"type": kind.value, **fields})
    return COMMAND_ADAPTER.dump_python(command, mode="json")  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", list(CommandType))
def test_same_json_as_the_models_key_order_included(kind: CommandType) -> None:
    fields = {**BASE, **EXTRA.get(kind, {})}
    built = command_json(kind, **fields)
    assert orjson.dumps(built) == orjson.dumps(_by_models(kind, **fields))


@pytest.mark.parametrize(
    "kind, extra",
    [
        (CommandType.ADJUST_CREDIT_LIMIT, {"new_limit": "0.00"}),
        (CommandType.ADJUST_CREDIT_LIMIT, {"new_limit": Decimal("-1")}),
        (CommandType.SEND_NOTICE, {"template": "t", "channel": "sms", "deliver_at": datetime(2026, 3, 10, 8)}),
        (CommandType.SEND_NOTICE, {"template": "t", "channel": "sms"}),
        (CommandType.LOCK_CARD, {"new_limit": "1.00"}),
    ],
)
def test_refuses_what_the_models_refuse(kind: CommandType, extra: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _by_models(kind, **BASE, **extra)
    with pytest.raises((ValueError, TypeError)):
        command_json(kind, **BASE, **extra)
