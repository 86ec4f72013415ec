"""The inbound event contract, version 1.1 (docs/contract.md).

Upstream billing publishes one JSON object per event. Every model here is
strict: unknown fields, floats for money and naive timestamps are rejected,
and a rejection names the field and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from events.canonical import canonical_and_digest, canonical_bytes
from events.trusted import constructor
from events.types import (
    MAX_ID_LENGTH,
    AccountId,
    DaysPastDue,
    EventId,
    IsoDate,
    Money,
    PersonalReference,
    Phone,
    PlanId,
    Reference,
    StrictBoolean,
    StrictInteger,
    Text,
    Timestamp,
    TimeZoneName,
    has_unsafe_text,
)

if TYPE_CHECKING:
    from events.operator import OperatorAction

SCHEMA_VERSION = 1
MAX_EVENT_BYTES = 64 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# ---------------------------------------------------------------- data blocks


class AccountOpenedData(_Strict):
    customer_id: PersonalReference
    credit_limit: Money
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    card_ref: PersonalReference = Field(description="tokenised card reference, never a card number")
    phone: Phone | None = Field(default=None, description="personal data: stored, never logged")
    timezone: TimeZoneName = "Asia/Shanghai"


class BillIssuedData(_Strict):
    bill_id: Reference
    amount: Money
    due_date: IsoDate


class RepaymentReceivedData(_Strict):
    # The JSON Schema says "not both" too: not (bill_id and plan_id both strings).
    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["bill_id", "plan_id"],
                "properties": {"bill_id": {"type": "string"}, "plan_id": {"type": "string"}},
            }
        }
    )

    payment_id: Reference
    amount: Money
    bill_id: Reference | None = None
    plan_id: Reference | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RepaymentReceivedData:
        if self.bill_id is not None and self.plan_id is not None:
            raise ValueError("give bill_id or plan_id, not both")
        return self


class RepaymentReversedData(_Strict):
    payment_id: Reference
    reason: Text


class OverdueReportedData(_Strict):
    bill_id: Reference
    days_past_due: DaysPastDue
    outstanding: Money


class Installment(_Strict):
    due_date: IsoDate
    amount: Money


class RepaymentPlanAgreedData(_Strict):
    plan_id: PlanId
    installments: Annotated[list[Installment], Field(min_length=1, max_length=36)]


class UnlockRequestedData(_Strict):
    request_id: Reference


class UnlockReviewedData(_Strict):
    request_id: Reference
    approved: StrictBoolean
    reviewer: PersonalReference
    note: Text | None = None


class DayClosedData(_Strict):
    business_date: IsoDate


class AccountClosedData(_Strict):
    reason: Literal["repaid", "charged_off", "customer_request"]


class FactRetractedData(_Strict):
    retracted_event_id: EventId = Field(description="event_id of an earlier event of this account that was wrong")
    reason: Text


NoticeOutcome = Literal["delivered", "failed", "read", "replied", "promise_to_pay"]
PROMISE_TO_PAY = "promise_to_pay"


class NoticeOutcomeReportedData(_Strict):
    """What became of a `SendNotice` (contract 1.1): the messaging gateway's report."""

    # The JSON Schema says it too: a promise carries its amount and date, any other outcome neither
    # (null stands for absent, as for every optional field of the contract).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"outcome": {"const": PROMISE_TO_PAY}}, "required": ["outcome"]},
            "then": {
                "required": ["promised_amount", "promised_date"],
                "properties": {"promised_amount": {"type": "string"}, "promised_date": {"type": "string"}},
            },
            "else": {"properties": {"promised_amount": {"type": "null"}, "promised_date": {"type": "null"}}},
        }
    )

    command_id: Reference = Field(description="the command_id of the SendNotice this reports on")
    outcome: NoticeOutcome
    promised_amount: Money | None = Field(default=None, description="with promise_to_pay only")
    promised_date: IsoDate | None = Field(default=None, description="with promise_to_pay only")

    @model_validator(mode="after")
    def _promise_fields(self) -> NoticeOutcomeReportedData:
        promised = self.promised_amount is not None, self.promised_date is not None
        if self.outcome == PROMISE_TO_PAY and not all(promised):
            raise ValueError("promise_to_pay needs promised_amount and promised_date")
        if self.outcome != PROMISE_TO_PAY and any(promised):
            raise ValueError("promised_amount and promised_date go with promise_to_pay only")
        return self


# ---------------------------------------------------------------- envelopes


class _Envelope(_Strict):
    event_id: EventId
    occurred_at: Timestamp
    schema_version: Annotated[StrictInteger, Field(json_schema_extra={"const": SCHEMA_VERSION})]

    @field_validator("schema_version")
    @classmethod
    def _supported_version(cls, version: int) -> int:
        if version != SCHEMA_VERSION:
            raise ValueError(f"must be {SCHEMA_VERSION}")
        return version


class _AccountEnvelope(_Envelope):
    account_id: AccountId


class AccountOpened(_AccountEnvelope):
    type: Literal["AccountOpened"]
    data: AccountOpenedData


class BillIssued(_AccountEnvelope):
    type: Literal["BillIssued"]
    data: BillIssuedData


class RepaymentReceived(_AccountEnvelope):
    type: Literal["RepaymentReceived"]
    data: RepaymentReceivedData


class RepaymentReversed(_AccountEnvelope):
    type: Literal["RepaymentReversed"]
    data: RepaymentReversedData


class OverdueReported(_AccountEnvelope):
    type: Literal["OverdueReported"]
    data: OverdueReportedData


class RepaymentPlanAgreed(_AccountEnvelope):
    type: Literal["RepaymentPlanAgreed"]
    data: RepaymentPlanAgreedData


class UnlockRequested(_AccountEnvelope):
    type: Literal["UnlockRequested"]
    data: UnlockRequestedData


class UnlockReviewed(_AccountEnvelope):
    type: Literal["UnlockReviewed"]
    data: UnlockReviewedData


class AccountClosed(_AccountEnvelope):
    type: Literal["AccountClosed"]
    data: AccountClosedData


class FactRetracted(_AccountEnvelope):
    type: Literal["FactRetracted"]
    data: FactRetractedData


class NoticeOutcomeReported(_AccountEnvelope):
    type: Literal["NoticeOutcomeReported"]
    data: NoticeOutcomeReportedData


class DayClosed(_Envelope):
    type: Literal["DayClosed"]
    data: DayClosedData


AccountEvent = (
    AccountOpened
    | BillIssued
    | RepaymentReceived
    | RepaymentReversed
    | OverdueReported
    | RepaymentPlanAgreed
    | UnlockRequested
    | UnlockReviewed
    | AccountClosed
    | FactRetracted
    | NoticeOutcomeReported
)
InboundEvent = Annotated[AccountEvent | DayClosed, Field(discriminator="type")]

EVENT_TYPES: dict[str, type[_Envelope]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        AccountOpened,
        BillIssued,
        RepaymentReceived,
        RepaymentReversed,
        OverdueReported,
        RepaymentPlanAgreed,
        UnlockRequested,
        UnlockReviewed,
        AccountClosed,
        FactRetracted,
        NoticeOutcomeReported,
        DayClosed,
    )
}


# ---------------------------------------------------------------- parsing


class InvalidEvent(ValueError):
    """An event that breaks the contract; `reason` names each field and why."""

    def __init__(self, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """A valid event with its canonical JSON (what is stored) and its payload digest (events.canonical)."""

    event: AccountEvent | DayClosed | OperatorAction  # an operator action only from events.operator
    canonical: str
    digest: bytes


_NAMEABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _name(part: str | int) -> str:
    """A path step of a reason: an index, a field name, or an unknown field's name if it is a plain identifier."""
    return str(part) if isinstance(part, int) or _NAMEABLE.fullmatch(part) else "<unnamed field>"


def describe_errors(error: ValidationError) -> str:
    """Turn pydantic's errors into 'field: reason' clauses without echoing input values.

    Pydantic's own messages never hold the input (include_input=False), nor
    do the value types' (events.types). The only text of the message a
    reason can hold is the name of an unknown field, shown only when it is
    a plain identifier.
    """
    clauses = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(_name(part) for part in item["loc"]) or "event"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown field"
        clauses.append(f"{where}: {message}")
    return "; ".join(clauses)


def _check_size(raw: bytes | str) -> None:
    try:
        size = len(raw.encode() if isinstance(raw, str) else raw)
    except UnicodeEncodeError:  # a str can hold a lone surrogate, which no UTF-8 message can
        raise InvalidEvent("event: not UTF-8 text (a lone surrogate)") from None
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event: message of {size} bytes exceeds the {MAX_EVENT_BYTES}-byte limit")


def _decode(raw: bytes | str) -> dict[str, Any]:
    _check_size(raw)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent(f"event: malformed JSON or not UTF-8 ({error.msg})") from None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"event: must be a JSON object, got {type(obj).__name__}")
    return obj


def validate_event(obj: dict[str, Any]) -> AccountEvent | DayClosed:
    """Validate a decoded JSON object against the contract."""
    event_id = obj.get("event_id")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH and not has_unsafe_text(event_id)):
        event_id = None  # a rejection carries the event's id only if the id itself is valid
    kind = obj.get("type")
    if kind is None:
        raise InvalidEvent("type: required field is missing", event_id)
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise InvalidEvent(f"type: unknown event type; expected one of {', '.join(EVENT_TYPES)}", event_id)
    try:
        return EVENT_TYPES[kind].model_validate(obj)  # type: ignore[return-value]
    except ValidationError as error:
        raise InvalidEvent(describe_errors(error), event_id) from None


def canonical_json(event: AccountEvent | DayClosed) -> str:
    """`event.model_dump_json()`, written without pydantic's serializer (events.canonical)."""
    return canonical_bytes(event).decode()


_FROM_JSON: TypeAdapter[AccountEvent | DayClosed] = TypeAdapter(InboundEvent)


def parse_event(raw: bytes | str) -> ParsedEvent:
    """Decode, validate and fingerprint one message; raises InvalidEvent.

    A valid message is validated straight from its JSON (pydantic's parser,
    no dict in between: a fifth of the cost); any other is decoded and
    validated again by `validate_event`, whose reason is the one given. Both
    JSON parsers refuse the same texts (tests/unit/test_contract.py).
    """
    _check_size(raw)
    try:
        event = _FROM_JSON.validate_json(raw)
    except ValidationError:
        event = validate_event(_decode(raw))
    canonical, digest = canonical_and_digest(event)
    return ParsedEvent(event, canonical, digest)


def parse_or_refusal(raw: bytes | str) -> ParsedEvent | InvalidEvent:
    """The message parsed, or the reason it breaks the contract: a batch goes on past a refused message."""
    try:
        return parse_event(raw)
    except InvalidEvent as error:
        return error


def load_canonical(canonical: str | bytes) -> AccountEvent | DayClosed | OperatorAction:
    """Re-read an event the store recorded in canonical form (validated on its way in)."""
    return load_object(orjson.loads(canonical))


def load_object(obj: dict[str, Any]) -> AccountEvent | DayClosed | OperatorAction:
    """A recorded fact from its canonical JSON, already parsed: rebuilt, not validated again (events.trusted).

    A recorded fact is a contract event or an operator action (events.operator).
    """
    build = _RECORDED.get(obj["type"])
    if build is None:
        build = _recorded_action(obj["type"])
    return build(obj)  # type: ignore[no-any-return]


_RECORDED = {kind: constructor(model) for kind, model in EVENT_TYPES.items()}


def _recorded_action(kind: str) -> Any:
    """The rebuild of an operator action's type (events.operator imports this module: imported on first use)."""
    from events.operator import ACTION_TYPES  # noqa: PLC0415

    _RECORDED.update((name, constructor(model)) for name, model in ACTION_TYPES.items())
    return _RECORDED[kind]
