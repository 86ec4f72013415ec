"""Value types of the contract: exact money, strict dates and times, ids.

Each type accepts only the JSON form the contract names (strings for money
and dates), so a float amount or a date without dashes is rejected with a
reason instead of being coerced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    StrictStr,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from events.timezones import TIME_ZONES, TZDATA_RELEASE

# ---------------------------------------------------------------- contract 1.1 bounds

MAX_AMOUNT = Decimal("999999999999.99")
FIRST_YEAR, LAST_YEAR = 2000, 2199  # of every date and event time, as written
MAX_OFFSET_HOURS = 18  # an event time's UTC offset: within ±18:00
MAX_DAYS_PAST_DUE = 36_500
MAX_ID_LENGTH = 128

# The code points no id or text may hold: Unicode categories Cc (U+0000-U+001F,
# U+007F-U+009F), Zl (U+2028), Zp (U+2029) and Cs (the surrogates U+D800-U+DFFF).
# The JSON Schema states it as one pattern, ECMA-262 with the u flag (as JSON
# Schema 2020-12 asks): there a surrogate pair is one code point, outside the
# range, so only a lone surrogate falls in it. Python's `re` reads the same text.
_UNSAFE_RANGES = r"\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff"
SAFE_TEXT_PATTERN = rf"^[^{_UNSAFE_RANGES}]*$"
_unsafe = re.compile(rf"[{_UNSAFE_RANGES}]")

# A positive amount, at most 12 integer digits (999999999999.99) and 2 fraction digits.
MONEY_PATTERN = r"^(?:0\.(?:0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,11}(?:\.[0-9]{1,2})?)$"
_MONEY_SHAPE = r"^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$"  # digits: tells "out of bounds" from "not a decimal"

# A calendar date of the years 2000-2199, leap days included (2100 is not a leap year).
_YEAR = r"2[01][0-9]{2}"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = r"(?:20(?:[02468][048]|[13579][26])|21(?:0[48]|[2468][048]|[13579][26]))"
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
_OFFSET = r"(?:[Zz]|[+-](?:(?:0[0-9]|1[0-7]):[0-5][0-9]|18:00))"
DATE_PATTERN = rf"^{_DATE}$"
TIMESTAMP_PATTERN = rf"^{_DATE}[Tt]{_TIME}{_OFFSET}$"
_DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP_SHAPE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
RFC3339_PATTERN = _TIMESTAMP_SHAPE  # outbound command times: RFC 3339 with an offset, no year bound
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_money, _money_shape = re.compile(MONEY_PATTERN), re.compile(_MONEY_SHAPE)
_date, _date_shape = re.compile(DATE_PATTERN), re.compile(_DATE_SHAPE)
_timestamp, _timestamp_shape = re.compile(TIMESTAMP_PATTERN), re.compile(_TIMESTAMP_SHAPE)
_offset_in_bounds = re.compile(rf"{_OFFSET}$")
_time_zones = frozenset(TIME_ZONES)

# Every reason below names what is wrong, never the value: a bad message's
# content (personal data included) must not reach logs through its reason.


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a JSON string, got {type(value).__name__}")
    return value


def has_unsafe_text(text: str) -> bool:
    """Whether `text` holds a code point of Unicode Cc, Cs, Zl or Zp (what SAFE_TEXT_PATTERN refuses)."""
    return _unsafe.search(text) is not None


def refuse_unsafe_text(value: Any) -> Any:
    """An id or text with a code point of Unicode Cc, Cs, Zl or Zp is refused; anything else passes on."""
    if isinstance(value, str) and has_unsafe_text(value):
        raise ValueError(
            "must not contain control characters, line or paragraph separators or surrogates"
            " (Unicode categories Cc, Zl, Zp, Cs)"
        )
    return value


def parse_money(value: Any) -> Decimal:
    """A positive amount, at most 999999999999.99, written as a decimal string with at most two fraction digits."""
    if isinstance(value, Decimal):
        value = str(value)
    text = _require_str(value, "amount")
    if _money.fullmatch(text):
        return Decimal(text)
    if _money_shape.fullmatch(text) and len(text.partition(".")[2]) <= 2 and Decimal(text) == 0:
        raise ValueError("amount must be greater than zero")
    raise ValueError(
        'amount must be a decimal string like "1234.50": digits, at most 12 before the point and 2 after it'
        f" (at most {MAX_AMOUNT})"
    )


def parse_date(value: Any) -> date:
    """A calendar date written YYYY-MM-DD, of the years 2000 to 2199."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    text = _require_str(value, "date")
    if _date.fullmatch(text):
        return date.fromisoformat(text)
    if not _date_shape.fullmatch(text):
        raise ValueError("date must be written YYYY-MM-DD")
    if not FIRST_YEAR <= int(text[:4]) <= LAST_YEAR:
        raise ValueError(f"date must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    raise ValueError("not a calendar date: month or day out of range")


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 timestamp that carries its UTC offset (outbound command times: no bounds)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    text = _require_str(value, "timestamp")
    if not _timestamp_shape.fullmatch(text):
        raise ValueError("timestamp must be RFC 3339 with an offset, e.g. 2026-03-10T09:00:00+08:00")
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        raise ValueError("not a valid timestamp: a field out of range") from None


def parse_event_time(value: Any) -> datetime:
    """An event time: RFC 3339 with its offset, of the years 2000 to 2199 as written, the offset within ±18:00.

    Such a time converts to UTC and back without overflow.
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.isoformat()
    text = _require_str(value, "timestamp")
    if _timestamp.fullmatch(text):
        return datetime.fromisoformat(text.upper())
    if not _timestamp_shape.fullmatch(text):
        raise ValueError("timestamp must be RFC 3339 with an offset, e.g. 2026-03-10T09:00:00+08:00")
    if not FIRST_YEAR <= int(text[:4]) <= LAST_YEAR:
        raise ValueError(f"timestamp must be in the years {FIRST_YEAR} to {LAST_YEAR} (as written)")
    if not _offset_in_bounds.search(text):
        raise ValueError(f"timestamp offset must be within ±{MAX_OFFSET_HOURS}:00, minutes 00 to 59")
    raise ValueError("not a valid timestamp: month, day, hour, minute or second out of range")


def parse_timezone(value: Any) -> str:
    """An IANA time zone name of the contract's list (events.timezones)."""
    text = _require_str(value, "timezone")
    if text not in _time_zones:
        raise ValueError("timezone must be an IANA name such as Asia/Shanghai")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):  # a zone database older than the contract's list
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


@dataclass(frozen=True, slots=True)
class _SafeText:
    """Annotation: the string holds no code point of Cc, Cs, Zl or Zp; the JSON Schema says so with SAFE_TEXT_PATTERN.

    A Python check, not `Field(pattern=...)`: pydantic's Rust regex engine
    cannot name a surrogate, and could not be handed one (pydantic fails to
    read a string holding a lone surrogate, which only a Python caller can
    pass: orjson refuses one). Run before the string's own constraints, so
    such a string gets this reason too. A narrower pattern of the field's own
    stays, in `allOf`.
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(refuse_unsafe_text, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        if "pattern" in json_schema:
            json_schema["allOf"] = [*json_schema.get("allOf", []), {"pattern": json_schema.pop("pattern")}]
        json_schema["pattern"] = SAFE_TEXT_PATTERN
        return json_schema


SAFE_TEXT = _SafeText()

Money = Annotated[
    Decimal,
    PlainValidator(parse_money),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": f"decimal string, greater than 0 and at most {MAX_AMOUNT}, at most 2 fraction digits",
        }
    ),
]
IsoDate = Annotated[
    date,
    PlainValidator(parse_date),
    PlainSerializer(date.isoformat, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": DATE_PATTERN,
            "description": f"YYYY-MM-DD, a calendar date of the years {FIRST_YEAR} to {LAST_YEAR}",
        }
    ),
]
Timestamp = Annotated[
    datetime,
    PlainValidator(parse_event_time),
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "description": (
                f"RFC 3339 with an offset; the years {FIRST_YEAR} to {LAST_YEAR} as written,"
                f" the offset within ±{MAX_OFFSET_HOURS}:00, at most 9 fraction digits"
            ),
        }
    ),
]
"""An inbound event time (contract 1.1 bounds)."""
CommandTime = Annotated[
    datetime,
    PlainValidator(parse_timestamp),
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]
"""An outbound command's time: a delivery time may fall after the last year an event may be written in."""
TimeZoneName = Annotated[
    str,
    PlainValidator(parse_timezone),
    WithJsonSchema(
        {"type": "string", "enum": sorted(TIME_ZONES), "description": f"IANA time zone name (tzdata {TZDATA_RELEASE})"}
    ),
]
StrictInteger = Annotated[int, PlainValidator(parse_strict_int), WithJsonSchema({"type": "integer"})]
DaysPastDue = Annotated[
    int,
    PlainValidator(parse_strict_int),
    Field(ge=1, le=MAX_DAYS_PAST_DUE),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_DAYS_PAST_DUE}),
]
StrictBoolean = Annotated[bool, PlainValidator(parse_strict_bool), WithJsonSchema({"type": "boolean"})]
AccountId = Annotated[StrictStr, Field(pattern=ACCOUNT_ID_PATTERN)]
EventId = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH), SAFE_TEXT]
Reference = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH), SAFE_TEXT]


@dataclass(frozen=True, slots=True)
class _Personal:
    """Annotation: the field holds a person's data; it is sealed before it is stored (events.personal)."""


PERSONAL = _Personal()
PersonalReference = Annotated[Reference, PERSONAL]
"""An id that names a person (a customer, a card, an operator): personal data."""
Text = Annotated[StrictStr, Field(max_length=2000), SAFE_TEXT, PERSONAL]
"""Free text that people write: it may name anyone, so it is always personal data."""
Phone = Annotated[StrictStr, Field(max_length=32), SAFE_TEXT, PERSONAL]
PlanId = Annotated[StrictStr, Field(min_length=1, max_length=120, pattern=r"^[^#]+$"), SAFE_TEXT]
