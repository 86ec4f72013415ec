"""Contract 1.1: the bounds every accepted value respects, stated by the models and by the JSON Schema alike."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.inbound import AccountOpenedData, InvalidEvent, parse_event, validate_event
from events.schema import contract_schema
from events.types import (
    DATE_PATTERN,
    MAX_AMOUNT,
    MONEY_PATTERN,
    SAFE_TEXT_PATTERN,
    TIMESTAMP_PATTERN,
    has_unsafe_text,
    parse_date,
    parse_event_time,
    parse_money,
    parse_timestamp,
)

FORBIDDEN = {"Cc", "Cs", "Zl", "Zp"}
SAFE_FIELDS = {
    # (type, path): the ids and texts the bound applies to
    ("BillIssued", "event_id"),
    ("BillIssued", "data.bill_id"),
    ("RepaymentReceived", "data.payment_id"),
    ("RepaymentReceived", "data.bill_id"),
    ("RepaymentReceived", "data.plan_id"),
    ("RepaymentPlanAgreed", "data.plan_id"),
    ("UnlockRequested", "data.request_id"),
    ("AccountOpened", "data.customer_id"),
    ("AccountOpened", "data.card_ref"),
    ("AccountOpened", "data.phone"),
    ("UnlockReviewed", "data.reviewer"),
    ("UnlockReviewed", "data.note"),
    ("RepaymentReversed", "data.reason"),
}
DATA = {
    "AccountOpened": {"customer_id": "c", "credit_limit": "10.00", "card_ref": "t", "phone": "+86 138"},
    "BillIssued": {"bill_id": "b1", "amount": "1.00", "due_date": "2026-04-01"},
    "RepaymentReceived": {"payment_id": "p", "amount": "1.00"},
    "RepaymentReversed": {"payment_id": "p", "reason": "bounced"},
    "OverdueReported": {"bill_id": "b", "days_past_due": 3, "outstanding": "1.00"},
    "RepaymentPlanAgreed": {"plan_id": "L1", "installments": [{"due_date": "2026-05-01", "amount": "1.00"}]},
    "UnlockRequested": {"request_id": "r"},
    "UnlockReviewed": {"request_id": "r", "approved": True, "reviewer": "op", "note": "ok"},
}


def event(kind: str = "BillIssued", **data: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": kind,
        "account_id": "A1",
        "occurred_at": "2026-03-10T09:00:00+08:00",
        "schema_version": 1,
        "data": {**DATA[kind], **data},
    }


def placed(kind: str, path: str, value: object) -> dict[str, Any]:
    body = event(kind)
    where = body["data"] if path.startswith("data.") else body
    where[path.removeprefix("data.")] = value
    return body


def reason_of(body: dict[str, Any] | bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(body if isinstance(body, bytes) else json.dumps(body))
    return caught.value.reason


def accepted(body: dict[str, Any]) -> bool:
    try:
        parse_event(json.dumps(body))
    except InvalidEvent:
        return False
    return True


# ---------------------------------------------------------------- ids and texts: no Cc, Cs, Zl, Zp


def test_the_safe_text_pattern_and_the_python_check_agree_with_unicode_on_every_code_point() -> None:
    pattern = re.compile(SAFE_TEXT_PATTERN)
    refused = []
    for point in range(0x110000):
        char = chr(point)
        forbidden = unicodedata.category(char) in FORBIDDEN
        # fullmatch: ECMA-262's `$` is the end of the text, never before a final newline as Python's is
        assert (pattern.fullmatch(char) is None) == forbidden == has_unsafe_text(char), hex(point)
        assert (pattern.fullmatch(f"a{char}b") is None) == forbidden == has_unsafe_text(f"a{char}b"), hex(point)
        if forbidden:
            refused.append(point)
    assert len(refused) == 65 + 2 + 2048  # Cc, Zl and Zp, Cs: the membership the pattern's ranges spell
    assert pattern.fullmatch("") and pattern.fullmatch("余额不足 🙂 \u00a0\u200b\ufeff")


def test_the_schema_states_one_pattern_for_every_id_and_text() -> None:
    schema = contract_schema("inbound")
    for kind, path in SAFE_FIELDS:
        node = schema["$defs"][kind]["properties"]
        if path.startswith("data."):
            node = schema["$defs"][f"{kind}Data"]["properties"]
        field = node[path.removeprefix("data.")]
        field = field.get("anyOf", [field])[0]  # optional fields: the string branch
        assert field["pattern"] == SAFE_TEXT_PATTERN, (kind, path)
    patterns = re.findall(r'"pattern": "(\^\[\^\\\\u0000[^"]*)"', json.dumps(schema))
    assert len(patterns) >= len(SAFE_FIELDS) and set(patterns) == {json.dumps(SAFE_TEXT_PATTERN)[1:-1]}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for an ECMA-262 regex engine")
def test_an_ecma_262_engine_with_the_u_flag_reads_the_pattern_the_same_way() -> None:
    script = """
    const re = new RegExp(process.argv[1], "u");
    const out = [];
    for (let p = 0; p <= 0x10ffff; p++) if (!re.test(String.fromCodePoint(p))) out.push(p);
    const pair = re.test("\\ud83d\\ude42") && !re.test("\\ud83d") && !re.test("a\\n");
    console.log(JSON.stringify({refused: out, pair}));
    """
    done = subprocess.run(["node", "-e", script, SAFE_TEXT_PATTERN], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    expected = [p for p in range(0x110000) if unicodedata.category(chr(p)) in FORBIDDEN]
    assert result["refused"] == expected
    assert result["pair"], "a surrogate pair is one code point (accepted); a lone surrogate and a newline are refused"


@pytest.mark.parametrize(("kind", "path"), sorted(SAFE_FIELDS))
@pytest.mark.parametrize("char", ["\x00", "\n", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029"])
def test_every_id_and_text_refuses_control_characters_and_separators(kind: str, path: str, char: str) -> None:
    reason = reason_of(placed(kind, path, f"x{char}y"))
    assert reason.startswith(f"{path}: must not contain control characters"), reason
    assert char not in reason


@pytest.mark.parametrize(("kind", "path"), sorted(SAFE_FIELDS))
def test_a_lone_surrogate_from_a_python_caller_is_refused_with_the_same_reason(kind: str, path: str) -> None:
    # orjson never yields one (a JSON \\ud800 escape alone is malformed JSON); a Python caller can.
    for lone in ("\ud800", "a\udfffb", "\ud83d\ude42"):  # the last: a pair, but two code points in Python
        with pytest.raises(InvalidEvent) as caught:
            validate_event(placed(kind, path, lone))
        assert caught.value.reason.startswith(f"{path}: must not contain"), caught.value.reason
    with pytest.raises(ValueError, match="must not contain"):
        AccountOpenedData.model_validate({"customer_id": "c\ud800", "credit_limit": "1.00", "card_ref": "t"})


def test_astral_characters_and_unicode_spaces_are_fine() -> None:
    assert accepted(placed("RepaymentReversed", "data.reason", "余额不足 🙂\u3000\u00a0tab-free"))
    assert accepted(json.loads(json.dumps(placed("UnlockReviewed", "data.note", "🙂" * 2000), ensure_ascii=True)))


def test_a_rejection_carries_the_event_id_only_if_it_is_valid() -> None:
    for bad_id, carried in (("e-1", "e-1"), ("e\x00-1", None), ("e" * 129, None), ("", None)):
        body = placed("BillIssued", "data.amount", 1.5) | {"event_id": bad_id}
        with pytest.raises(InvalidEvent) as caught:
            parse_event(json.dumps(body))
        assert caught.value.event_id == carried


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("amount", "ok"),
    [
        ("999999999999.99", True),
        ("999999999999", True),
        ("0.01", True),
        ("0.1", True),
        ("1000000000000", False),
        ("1000000000000.00", False),
        ("999999999999.999", False),
        ("999999999999999.99", False),  # the old bound
        ("0", False),
        ("0.0", False),
        ("0.00", False),
    ],
)
def test_amounts_and_limits_are_at_most_999_999_999_999_99(amount: str, ok: bool) -> None:
    money_fields = (("BillIssued", "amount"), ("AccountOpened", "credit_limit"), ("OverdueReported", "outstanding"))
    for kind, field in money_fields:
        assert accepted(placed(kind, f"data.{field}", amount)) is ok, (kind, amount)
    if not ok:
        assert amount not in reason_of(placed("BillIssued", "data.amount", amount))
    assert Decimal("999999999999.99") == MAX_AMOUNT


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"\A-?[0-9]{1,16}(\.[0-9]{0,4})?\Z"),
        st.decimals(min_value=0, max_value=10**13, places=2).map(str),
        st.text(alphabet="0123456789.", max_size=18),
    )
)
def test_the_money_pattern_is_exactly_what_parse_money_accepts(text: str) -> None:
    try:
        value = parse_money(text)
    except ValueError:
        value = None
    assert (re.fullmatch(MONEY_PATTERN, text) is not None) == (value is not None), text
    if value is not None:
        assert 0 < value <= MAX_AMOUNT


# ---------------------------------------------------------------- days past due, installments


@pytest.mark.parametrize(("days", "ok"), [(1, True), (36_500, True), (36_501, False), (0, False), (10**30, False)])
def test_days_past_due_is_1_to_36500(days: int, ok: bool) -> None:
    assert accepted(placed("OverdueReported", "data.days_past_due", days)) is ok
    schema = contract_schema("inbound")["$defs"]["OverdueReportedData"]["properties"]["days_past_due"]
    assert (schema["minimum"], schema["maximum"]) == (1, 36_500)


# ---------------------------------------------------------------- dates and event times


def test_the_date_pattern_is_exactly_what_parse_date_accepts_calendar_and_years() -> None:
    pattern = re.compile(DATE_PATTERN)
    for year, month, day in itertools.product(range(1998, 2202), range(14), range(33)):
        text = f"{year:04d}-{month:02d}-{day:02d}"
        try:
            real = date(year, month, day)
        except ValueError:
            real = None
        expected = real is not None and 2000 <= year <= 2199
        try:
            parse_date(text)
            parsed = True
        except ValueError as error:
            parsed = False
            assert text not in str(error) and str(year) not in str(error)
        assert (pattern.fullmatch(text) is not None) == parsed == expected, text


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0001-01-01", "years 2000 to 2199"),
        ("1999-12-31", "years 2000 to 2199"),
        ("2200-01-01", "years 2000 to 2199"),
        ("9999-12-31", "years 2000 to 2199"),
        ("2100-02-29", "not a calendar date"),
        ("2026-02-30", "not a calendar date"),
    ],
)
def test_dates_outside_the_years_or_the_calendar_are_refused(value: str, why: str) -> None:
    for body, where in (
        (placed("BillIssued", "data.due_date", value), "data.due_date"),
        (placed("RepaymentPlanAgreed", "data.installments", [{"due_date": value, "amount": "1.00"}]), "installments"),
    ):
        reason = reason_of(body)
        assert where in reason and why in reason and value not in reason
    assert accepted(placed("BillIssued", "data.due_date", "2000-02-29"))
    assert accepted(placed("BillIssued", "data.due_date", "2196-02-29"))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0001-01-01T00:00:00+23:59", "years 2000 to 2199"),
        ("2026-03-10T09:00:00+23:59", "offset must be within ±18:00"),
        ("2026-03-10T09:00:00+18:01", "offset must be within ±18:00"),
        ("2026-03-10T09:00:00-18:30", "offset must be within ±18:00"),
        ("2026-03-10T09:00:00+08:99", "offset must be within ±18:00"),
        ("1999-12-31T23:59:59Z", "years 2000 to 2199"),
        ("2200-01-01T00:00:00+08:00", "years 2000 to 2199"),
        ("2026-02-29T09:00:00+08:00", "not a valid timestamp"),
        ("2026-03-10T24:00:00+08:00", "not a valid timestamp"),
        ("2026-03-10T09:00:60+08:00", "not a valid timestamp"),
    ],
)
def test_event_times_outside_the_bounds_are_refused_naming_the_field(value: str, why: str) -> None:
    reason = reason_of(event() | {"occurred_at": value})
    assert reason.startswith("occurred_at:") and why in reason and value not in reason


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2000-01-01T00:00:00+18:00", "1999-12-31T06:00:00+00:00"),  # the year bound is as written
        ("2199-12-31T23:59:59.999999999-18:00", "2200-01-01T17:59:59.999999+00:00"),
        ("2026-03-10T09:00:00-00:00", "2026-03-10T09:00:00+00:00"),
        ("2026-03-10t09:00:00z", "2026-03-10T09:00:00+00:00"),
    ],
)
def test_event_times_at_the_bounds_convert_to_utc_and_back(value: str, utc: str) -> None:
    occurred = parse_event(json.dumps(event() | {"occurred_at": value})).event.occurred_at
    assert occurred.astimezone(UTC).isoformat() == utc
    assert occurred.astimezone(UTC).astimezone(occurred.tzinfo) == occurred


_digits = st.integers(0, 99).map("{:02d}".format)


@settings(max_examples=500, deadline=None)
@given(
    year=st.sampled_from([1999, 2000, 2004, 2100, 2199, 2200, 1, 9999]) | st.integers(2000, 2199),
    month=_digits,
    day=_digits,
    hour=_digits,
    minute=_digits,
    second=_digits,
    fraction=st.sampled_from(["", ".5", ".123456789"]),
    sign=st.sampled_from("+-"),
    offset=st.tuples(st.integers(0, 25), st.integers(0, 99)),
    zulu=st.booleans(),
)
def test_the_timestamp_pattern_is_exactly_what_parse_event_time_accepts(
    year: int,
    month: str,
    day: str,
    hour: str,
    minute: str,
    second: str,
    fraction: str,
    sign: str,
    offset: Any,
    zulu: bool,
) -> None:
    zone = "Z" if zulu else f"{sign}{offset[0]:02d}:{offset[1]:02d}"
    text = f"{year:04d}-{month}-{day}T{hour}:{minute}:{second}{fraction}{zone}"
    try:
        parsed = parse_event_time(text)
    except ValueError as error:
        parsed = None
        assert text not in str(error)
    assert (re.fullmatch(TIMESTAMP_PATTERN, text) is not None) == (parsed is not None), text
    if parsed is not None:
        assert 2000 <= int(text[:4]) <= 2199
        offset_seconds = parsed.utcoffset().total_seconds()  # type: ignore[union-attr]
        assert abs(offset_seconds) <= 18 * 3600
        assert parsed.astimezone(UTC).astimezone(parsed.tzinfo) == parsed


def test_python_callers_get_the_same_bounds_for_date_and_datetime_objects() -> None:
    with pytest.raises(ValueError, match="years 2000 to 2199"):
        parse_date(date(1, 1, 1))
    with pytest.raises(ValueError, match="years 2000 to 2199"):
        parse_event_time(datetime(2200, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="offset"):
        parse_event_time(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=20))))
    assert parse_event_time(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)


def test_command_times_keep_no_year_bound() -> None:
    # A notice deferred past quiet hours on 2199-12-31 is delivered in 2200.
    assert parse_timestamp("2200-01-01T08:00:00+08:00").year == 2200


# ---------------------------------------------------------------- reasons


def test_an_unknown_type_is_not_echoed() -> None:
    reason = reason_of(event() | {"type": "Secret+8613812345678"})
    assert reason.startswith("type: unknown event type; expected one of AccountOpened")
    assert "8613812345678" not in reason


@pytest.mark.parametrize(
    ("key", "shown"),
    [("comment", "data.comment: unknown field"), ("+8613812345678", "data.<unnamed field>: unknown field")],
)
def test_an_unknown_field_is_named_only_if_its_name_is_a_plain_identifier(key: str, shown: str) -> None:
    assert reason_of(placed("BillIssued", f"data.{key}", "x")) == shown


def test_the_schema_title_says_contract_1_1() -> None:
    assert contract_schema("inbound")["title"].endswith("contract v1.1")


def test_the_contract_document_states_the_pattern_and_version() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "contract.md").read_text()
    assert f"`{SAFE_TEXT_PATTERN}`" in text and "version 1.1" in text
