"""Value types of the contract: exact money, strict dates and times, ids.

Each type accepts only the JSON form the contract names (strings for money
and dates), so a float amount or a date without dashes is rejected with a
reason instead of being coerced.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PlainSerializer, PlainValidator, StrictStr, WithJsonSchema

MONEY_PATTERN = r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_money = re.compile(MONEY_PATTERN)
_date = re.compile(DATE_PATTERN)
_timestamp = re.compile(TIMESTAMP_PATTERN)


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a JSON string, got {type(value).__name__}")
    return value


def parse_money(value: Any) -> Decimal:
    """A positive amount written as a decimal string with at most two fraction digits."""
    if isinstance(value, Decimal):
        value = str(value)
    text = _require_str(value, "amount")
    if not _money.fullmatch(text):
        raise ValueError(
            'amount must be a decimal string like "1234.50": digits, at most 15 before the point and 2 after it'
        )
    amount = Decimal(text)
    if amount <= 0:
        raise ValueError("amount must be greater than zero")
    return amount


def parse_date(value: Any) -> date:
    """A calendar date written YYYY-MM-DD."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = _require_str(value, "date")
    if not _date.fullmatch(text):
        raise ValueError("date must be written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"not a calendar date: {error}") from None


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp that carries its UTC offset."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    text = _require_str(value, "timestamp")
    if not _timestamp.fullmatch(text):
        raise ValueError("timestamp must be RFC 3339 with an offset, e.g. 2026-03-10T09:00:00+08:00")
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError as error:
        raise ValueError(f"not a valid timestamp: {error}") from None


def parse_timezone(value: Any) -> str:
    """An IANA time zone name that this machine's zone database knows."""
    text = _require_str(value, "timezone")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("timezone must be an IANA name such as Asia/Shanghai") from None
    return text


def parse_strict_int(value: Any) -> int:
    """A JSON integer: not a boolean, not a float, not a string."""
    if type(value) is not int:
        raise ValueError(f"must be a JSON integer, got {type(value).__name__}")
    return value


def parse_strict_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise ValueError(f"must be true or false, got {type(value).__name__}")
    return value


Money = Annotated[
    Decimal,
    PlainValidator(parse_money),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "description": "amount > 0"}),
]
IsoDate = Annotated[
    date,
    PlainValidator(parse_date),
    PlainSerializer(date.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
Timestamp = Annotated[
    datetime,
    PlainValidator(parse_timestamp),
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN}),
]
TimeZoneName = Annotated[
    str,
    PlainValidator(parse_timezone),
    WithJsonSchema({"type": "string", "description": "IANA time zone name"}),
]
StrictInteger = Annotated[int, PlainValidator(parse_strict_int), WithJsonSchema({"type": "integer"})]
StrictBoolean = Annotated[bool, PlainValidator(parse_strict_bool), WithJsonSchema({"type": "boolean"})]
AccountId = Annotated[StrictStr, Field(pattern=ACCOUNT_ID_PATTERN)]
EventId = Annotated[StrictStr, Field(min_length=1, max_length=128)]
Reference = Annotated[StrictStr, Field(min_length=1, max_length=128)]
Text = Annotated[StrictStr, Field(max_length=2000)]
