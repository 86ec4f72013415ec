"""Facts read back from the store without validation are the facts that were validated."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from events.inbound import EVENT_TYPES, load_canonical, parse_event
from events.trusted import constructor

# Any Unicode the contract allows in ids and texts: quotes and backslashes included, no Cc, Cs, Zl or Zp.
_safe = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
_text = st.text(_safe, min_size=1, max_size=20)
_reference = _text
_money = st.builds(
    lambda whole, cents: f"{whole}{cents}",
    st.integers(1, 10**12 - 1).map(str),
    st.sampled_from(["", ".5", ".50", ".05", ".0", ".00", ".99"]),
)
_date = st.dates(date(2000, 1, 1), date(2199, 12, 31)).map(lambda d: d.isoformat())
_timestamp = st.builds(
    lambda d, h, m, s, fraction, zone, t: f"{d}{t}{h:02d}:{m:02d}:{s:02d}{fraction}{zone}",
    _date,
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", ".5", ".123", ".123456", ".123456789"]),
    st.sampled_from(["Z", "z", "+08:00", "-05:30", "+00:00", "+18:00", "-18:00", "-00:00"]),
    st.sampled_from(["T", "t"]),
)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_data: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "AccountOpened": st.fixed_dictionaries(
        {"customer_id": _reference, "credit_limit": _money, "card_ref": _reference},
        optional={
            "currency": st.sampled_from(["CNY", "USD"]),
            "phone": _optional(st.text(_safe, max_size=32)),
            "timezone": st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York"]),
        },
    ),
    "BillIssued": st.fixed_dictionaries({"bill_id": _reference, "amount": _money, "due_date": _date}),
    "RepaymentReceived": st.one_of(
        st.fixed_dictionaries({"payment_id": _reference, "amount": _money}, optional={"bill_id": _reference}),
        st.fixed_dictionaries({"payment_id": _reference, "amount": _money}, optional={"plan_id": _reference}),
    ),
    "RepaymentReversed": st.fixed_dictionaries({"payment_id": _reference, "reason": st.text(_safe, max_size=50)}),
    "OverdueReported": st.fixed_dictionaries(
        {"bill_id": _reference, "days_past_due": st.integers(1, 10_000), "outstanding": _money}
    ),
    "RepaymentPlanAgreed": st.fixed_dictionaries(
        {
            "plan_id": _text.filter(lambda s: "#" not in s),
            "installments": st.lists(
                st.fixed_dictionaries({"due_date": _date, "amount": _money}), min_size=1, max_size=5
            ),
        }
    ),
    "UnlockRequested": st.fixed_dictionaries({"request_id": _reference}),
    "UnlockReviewed": st.fixed_dictionaries(
        {"request_id": _reference, "approved": st.booleans(), "reviewer": _reference},
        optional={"note": _optional(st.text(_safe, max_size=50))},
    ),
    "DayClosed": st.fixed_dictionaries({"business_date": _date}),
}


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(_data)))
    event = {
        "event_id": draw(_reference),
        "type": kind,
        "occurred_at": draw(_timestamp),
        "schema_version": 1,
        "data": draw(_data[kind]),
    }
    if kind != "DayClosed":
        event["account_id"] = draw(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
    return event


@settings(max_examples=400, deadline=None)
@given(event=valid_events())
def test_a_recorded_fact_reads_back_as_the_validated_one(event: dict[str, Any]) -> None:
    parsed = parse_event(json.dumps(event))
    loaded = load_canonical(parsed.canonical)
    validated = EVENT_TYPES[event["type"]].model_validate_json(parsed.canonical)
    assert type(loaded) is type(validated)
    assert loaded == validated == parsed.event
    assert loaded.model_dump_json() == parsed.canonical
    assert loaded.model_fields_set == validated.model_fields_set


def test_a_model_it_cannot_rebuild_exactly_is_refused_at_once() -> None:
    class Odd(BaseModel):
        when: complex

    with pytest.raises(TypeError, match=r"Odd\.when"):
        constructor(Odd)
