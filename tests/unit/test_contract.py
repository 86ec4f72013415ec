"""The inbound contract v1: what is accepted, and every rejection names field and reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.inbound import InvalidEvent, _decode, parse_event, validate_event
from events.schema import contract_schema
from tests.unit.test_trusted import valid_events

ROOT = Path(__file__).resolve().parents[2]


def envelope(kind: str = "BillIssued", **override: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": "e-1",
        "type": kind,
        "account_id": "A_1-x",
        "occurred_at": "2026-03-10T09:00:00+08:00",
        "schema_version": 1,
        "data": {"bill_id": "b1", "amount": "1234.50", "due_date": "2026-04-01"},
    }
    event.update(override)
    return event


def reject(event: object) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(event if isinstance(event, (bytes, str)) else json.dumps(event))
    return caught.value.reason


def test_valid_event_keeps_exact_money_and_offset() -> None:
    parsed = parse_event(json.dumps(envelope()))
    assert parsed.event.data.amount == Decimal("1234.50")  # type: ignore[union-attr]
    assert parsed.event.occurred_at.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]


def test_canonical_form_ignores_key_order_and_fills_defaults() -> None:
    opened = envelope("AccountOpened", data={"customer_id": "c", "credit_limit": "10.00", "card_ref": "t"})
    a = parse_event(json.dumps(opened))
    b = parse_event(json.dumps(dict(reversed(list(opened.items())))))
    assert a.digest == b.digest
    assert '"currency":"CNY"' in a.canonical and '"timezone":"Asia/Shanghai"' in a.canonical


@pytest.mark.parametrize(
    "amount, why",
    [
        (1234.5, "must be a JSON string, got float"),
        ("1234.567", "at most 12 before the point and 2 after"),
        ("0.00", "greater than zero"),
        ("-5.00", "decimal string"),
        ("1e3", "decimal string"),
        ("01.00", "decimal string"),
        ("12.50\n", "decimal string"),
    ],
)
def test_amounts_are_positive_decimal_strings(amount: object, why: str) -> None:
    reason = reject(envelope(data={"bill_id": "b1", "amount": amount, "due_date": "2026-04-01"}))
    assert reason.startswith("data.amount:") and why in reason


@pytest.mark.parametrize(
    "field, value, why",
    [
        ("occurred_at", "2026-03-10T09:00:00", "with an offset"),
        ("occurred_at", "2026-03-10 09:00:00+08:00", "RFC 3339"),
        ("occurred_at", 1773104400, "must be a JSON string"),
        ("account_id", "has space", "should match pattern"),
        ("account_id", "x" * 65, "should match pattern"),
        ("account_id", "A1\n", "should match pattern"),
        ("occurred_at", "2026-03-10T09:00:00+08:00\n", "RFC 3339"),
        ("event_id", "", "at least 1 character"),
        ("event_id", "x" * 129, "at most 128 characters"),
        ("schema_version", 2, "must be 1"),
        ("schema_version", True, "JSON integer"),
        ("schema_version", "1", "JSON integer"),
    ],
)
def test_envelope_rules(field: str, value: object, why: str) -> None:
    reason = reject(envelope(**{field: value}))
    assert reason.startswith(f"{field}:") and why in reason


def test_unknown_fields_are_rejected_in_data_and_envelope() -> None:
    assert "data.extra: unknown field" in reject(
        envelope(data={"bill_id": "b1", "amount": "1.00", "due_date": "2026-04-01", "extra": 1})
    )
    assert "trace: unknown field" in reject(envelope(trace="x"))


def test_missing_fields_are_named() -> None:
    event = envelope()
    del event["event_id"]
    assert "event_id: required field is missing" in reject(event)
    assert "data.due_date: required field is missing" in reject(envelope(data={"bill_id": "b", "amount": "1.00"}))


def test_day_closed_has_no_account_and_others_need_one() -> None:
    closed = {
        "event_id": "d",
        "type": "DayClosed",
        "occurred_at": "2026-03-10T23:59:00+08:00",
        "schema_version": 1,
        "data": {"business_date": "2026-03-10"},
    }
    assert parse_event(json.dumps(closed)).event.type == "DayClosed"
    assert "account_id" in reject({**closed, "account_id": "A1"})
    bill = envelope()
    del bill["account_id"]
    assert "account_id: required field is missing" in reject(bill)


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"type": "CardSwiped"}', "type: unknown event type; expected one of"),
        (b'{"event_id": "x"}', "type: required field is missing"),
        (b"{" + b'"a":"' + b"x" * 70000 + b'"}', "exceeds"),
    ],
)
def test_malformed_messages(raw: bytes, why: str) -> None:
    assert why in reject(raw)


def test_a_text_message_with_a_lone_surrogate_is_refused_not_raised() -> None:
    """`RiskEngine.process` takes text too: a lone surrogate cannot be UTF-8 (the size check used to raise on it)."""
    with pytest.raises(InvalidEvent, match="event: not UTF-8 text"):
        parse_event('{"event_id": "e-1", "type": "AccountOpened", "note": "\ud800"}')


@pytest.mark.parametrize(
    "kind, data, why",
    [
        ("OverdueReported", {"bill_id": "b", "days_past_due": 0, "outstanding": "1.00"}, "greater than or equal to 1"),
        ("OverdueReported", {"bill_id": "b", "days_past_due": 1.0, "outstanding": "1.00"}, "JSON integer"),
        ("RepaymentReceived", {"payment_id": "p", "amount": "1.00", "bill_id": "b", "plan_id": "p"}, "not both"),
        ("RepaymentPlanAgreed", {"plan_id": "p", "installments": []}, "at least 1 item"),
        (
            "RepaymentPlanAgreed",
            {"plan_id": "p", "installments": [{"due_date": "2026-01-01", "amount": "1.00"}] * 37},
            "at most 36 items",
        ),
        ("UnlockReviewed", {"request_id": "r", "approved": "yes", "reviewer": "o"}, "true or false"),
        (
            "AccountOpened",
            {"customer_id": "c", "credit_limit": "1.00", "card_ref": "t", "timezone": "Mars/Base"},
            "IANA",
        ),
        ("BillIssued", {"bill_id": "b", "amount": "1.00", "due_date": "2026-02-30"}, "not a calendar date"),
        ("BillIssued", {"bill_id": "b", "amount": "1.00", "due_date": "20260201"}, "YYYY-MM-DD"),
    ],
)
def test_data_rules(kind: str, data: dict[str, object], why: str) -> None:
    assert why in reject(envelope(kind, data=data))


def test_rejection_reasons_never_echo_personal_data() -> None:
    phone = "+8613812345678"
    reason = reject(
        envelope("AccountOpened", data={"customer_id": "c", "credit_limit": 5.5, "card_ref": "t", "phone": phone})
    )
    assert phone not in reason and "5.5" not in reason


def test_published_schema_is_the_generated_one() -> None:
    published = json.loads((ROOT / "docs" / "schema" / "inbound-v1.schema.json").read_text())
    assert published == json.loads(json.dumps(contract_schema("inbound")))


def test_schema_covers_every_type_and_the_money_pattern() -> None:
    schema = contract_schema("inbound")
    text = json.dumps(schema)
    for kind in (
        "AccountOpened",
        "BillIssued",
        "RepaymentReceived",
        "RepaymentReversed",
        "OverdueReported",
        "RepaymentPlanAgreed",
        "UnlockRequested",
        "UnlockReviewed",
        "DayClosed",
    ):
        assert kind in schema["discriminator"]["mapping"]
    assert "0-9]{1,2}" in text


def _by_dict(raw: bytes) -> tuple[str, str]:
    """What the message gives through orjson and validate_event (the path every refusal takes)."""
    try:
        event = validate_event(_decode(raw))
    except InvalidEvent as error:
        return "refused", error.reason
    return "accepted", event.model_dump_json()


_edits = st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=3)), max_size=3)
_tokens = st.sampled_from(
    [b"", b"01", b"-0", b"1.0", b"1e0", b"+1", b"NaN", b"true", b"null", b'"\\ud800"', b'"\\u0000"', b"\t", b","]
)


@settings(max_examples=300, deadline=None)
@given(event=valid_events(), edits=_edits, token=_tokens, where=st.integers(0, 10_000))
def test_validating_from_json_accepts_exactly_what_validating_a_dict_accepts(
    event: dict[str, object], edits: list[tuple[int, bytes]], token: bytes, where: int
) -> None:
    """parse_event validates straight from the JSON text; a valid message gives the same event, any other one
    the same reason, whatever the damage (bytes replaced, odd number forms, lone surrogates, control characters)."""
    raw = bytearray(json.dumps(event, ensure_ascii=where % 2 == 0).encode())
    for place, replacement in edits:
        at = place % (len(raw) + 1)
        raw[at : at + len(replacement)] = replacement
    at = where % (len(raw) + 1)
    raw[at:at] = token
    expected = _by_dict(bytes(raw))
    try:
        got = ("accepted", parse_event(bytes(raw)).canonical)
    except InvalidEvent as error:
        got = ("refused", error.reason)
    assert got == expected
