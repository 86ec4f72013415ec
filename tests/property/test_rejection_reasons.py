"""A rejection names the field and never repeats the value (contract 1.1).

Random bad values carrying a recognisable marker, put anywhere in an
otherwise valid event of any type (a field of the envelope or of `data`, an
installment, a new field), or into broken JSON: whatever the reason says, it
never holds the marker. FENGKONG_LONG=1 tries ten times as many.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.inbound import InvalidEvent, parse_event

LONG = os.environ.get("FENGKONG_LONG") == "1"
MARKER = "QzX7mark"
NUMBER = 73737373737  # a numeric marker
AT = "2026-03-10T09:00:00+08:00"

TEMPLATES: dict[str, dict[str, Any]] = {
    "AccountOpened": {
        "customer_id": "c",
        "credit_limit": "10.00",
        "card_ref": "t",
        "phone": "+8613800000000",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
    },
    "BillIssued": {"bill_id": "b1", "amount": "1.00", "due_date": "2026-04-01"},
    "RepaymentReceived": {"payment_id": "p", "amount": "1.00", "bill_id": "b1"},
    "RepaymentReversed": {"payment_id": "p", "reason": "bounced"},
    "OverdueReported": {"bill_id": "b", "days_past_due": 3, "outstanding": "1.00"},
    "RepaymentPlanAgreed": {"plan_id": "L1", "installments": [{"due_date": "2026-05-01", "amount": "1.00"}]},
    "UnlockRequested": {"request_id": "r"},
    "UnlockReviewed": {"request_id": "r", "approved": True, "reviewer": "op", "note": "ok"},
    "DayClosed": {"business_date": "2026-03-10"},
}

# Ways to break a value of each kind around the marker: bad characters, too long, out of range, wrong shape.
_breakers = st.sampled_from(
    [
        "{m}",
        "{m}\x00",
        "\n{m}",
        "{m}\u2028",
        "{m}" + "x" * 2001,
        "x" * 127 + "{m}",
        "12.345{m}",
        "999999999999999.99{m}",
        "2026-13-01{m}",
        "2026-02-30",
        "{m}-01-01",
        "2026-03-10T09:00:00+23:59{m}",
        "Asia/{m}",
        "{m}#1",
        "",
        " {m} ",
    ]
)
_marked = st.builds(lambda form, extra: form.format(m=MARKER) + extra, _breakers, st.text(max_size=5))
_values = st.one_of(
    _marked,
    st.lists(_marked, max_size=3),
    st.dictionaries(st.sampled_from(["due_date", "amount", "x"]), _marked, max_size=3),
    st.sampled_from([NUMBER, -NUMBER, NUMBER + 0.5, 10**40 + NUMBER, True, None]),
)
# New fields whose names carry the marker but are not plain identifiers (those are named, by design).
_odd_keys = st.sampled_from([f"{MARKER}-x", f" {MARKER}", f"{MARKER}.y", f"9{MARKER}", f"{MARKER}\x00", MARKER * 9])


@st.composite
def marked_events(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    body: dict[str, Any] = {
        "event_id": "e-1",
        "type": kind,
        "occurred_at": AT,
        "schema_version": 1,
        "data": copy.deepcopy(TEMPLATES[kind]),
    }
    if kind != "DayClosed":
        body["account_id"] = "A1"
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["envelope", "data", "installment", "new field"]))
        if where == "envelope":
            body[draw(st.sampled_from(sorted(body)))] = draw(_values)
        elif where == "data" and isinstance(body.get("data"), dict):
            body["data"][draw(st.sampled_from(sorted(TEMPLATES[kind])))] = draw(_values)
        elif where == "installment" and kind == "RepaymentPlanAgreed" and isinstance(body.get("data"), dict):
            body["data"]["installments"] = [{"due_date": draw(_values), "amount": draw(_values)}]
        else:
            target = body["data"] if isinstance(body.get("data"), dict) and draw(st.booleans()) else body
            target[draw(_odd_keys)] = draw(_values)
    raw = json.dumps(body, ensure_ascii=draw(st.booleans())).encode()
    damage = draw(st.sampled_from(["none", "none", "truncate", "unquote", "garbage"]))
    if damage == "truncate":
        raw = raw[: raw.find(MARKER.encode()) + len(MARKER) + 1] if MARKER.encode() in raw else raw[:-1]
    elif damage == "unquote":
        raw = raw.replace(f'"{MARKER}'.encode(), MARKER.encode(), 1)
    elif damage == "garbage":
        raw = raw + MARKER.encode()
    return raw


@settings(max_examples=3000 if LONG else 300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=marked_events())
def test_a_reason_names_the_field_and_never_repeats_the_value(raw: bytes) -> None:
    try:
        parse_event(raw)
    except InvalidEvent as invalid:
        reason = invalid.reason
        assert ": " in reason, "each clause names a field (or 'event' for the whole message)"
        assert MARKER not in reason and MARKER.lower() not in reason.lower(), reason
        assert str(NUMBER) not in reason, reason
        assert "\x00" not in reason and "\n" not in reason and "\u2028" not in reason
