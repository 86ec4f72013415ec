"""A corpus of bad input, each case with the outcome the contract and the policy define for it.

Hand-picked bad values per kind of field (ids, account ids, money, dates,
timestamps, integers, booleans, texts, enumerations, lists), applied to
every field of every event type, plus hand-written cases for what a matrix
cannot express: malformed JSON, invalid UTF-8, oversized messages, events
out of order, reused ids, conflicting payloads, a clock going backwards, and
the odd inputs docs/policy.md "Defined outcomes" answers by accepting them.

`cases(base)` interleaves them with `base`, a clean stream of good events,
after whatever each case needs to have happened first (its account opened,
the event whose id it reuses, a later business day closed).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from events.inbound import MAX_EVENT_BYTES

REJECTED, ACCEPTED, DUPLICATE, SKIPPED = "rejected", "accepted", "duplicate", "skipped"
AT = "2026-03-20T10:00:00+08:00"


@dataclass(frozen=True)
class Case:
    name: str  # unique
    category: str
    raw: bytes
    expect: str  # rejected | accepted | duplicate | skipped (a blank JSONL line)
    reason: str = ""  # for rejected: the dead letter's reason must contain it (each part, if split by "|"),
    # or one of its alternatives, if split by " || "
    after: str | None = None  # event_id of the base event that must come first
    account: str | None = None  # an account of the base stream the case names, if any


def dumps(event: Any) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


# ------------------------------------------------------------ templates: one valid event per type

DAY = {"event_id": "corpus-day", "type": "DayClosed", "occurred_at": AT, "schema_version": 1}


def templates(account: str) -> dict[str, dict[str, Any]]:
    def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_id": f"corpus-{kind}",
            "type": kind,
            "account_id": account,
            "occurred_at": AT,
            "schema_version": 1,
            "data": data,
        }

    return {
        "AccountOpened": event(
            "AccountOpened",
            {
                "customer_id": "C1",
                "credit_limit": "5000.00",
                "currency": "CNY",
                "card_ref": "tok_1",
                "phone": "+8613800000000",
                "timezone": "Asia/Shanghai",
            },
        ),
        "BillIssued": event("BillIssued", {"bill_id": "B1", "amount": "100.00", "due_date": "2026-04-10"}),
        "RepaymentReceived": event("RepaymentReceived", {"payment_id": "P1", "amount": "10.00", "bill_id": "B1"}),
        "RepaymentReversed": event("RepaymentReversed", {"payment_id": "P1", "reason": "bounced"}),
        "OverdueReported": event("OverdueReported", {"bill_id": "B1", "days_past_due": 3, "outstanding": "100.00"}),
        "RepaymentPlanAgreed": event(
            "RepaymentPlanAgreed",
            {"plan_id": "L1", "installments": [{"due_date": "2026-05-01", "amount": "50.00"}]},
        ),
        "UnlockRequested": event("UnlockRequested", {"request_id": "R1"}),
        "UnlockReviewed": event(
            "UnlockReviewed", {"request_id": "R1", "approved": True, "reviewer": "op1", "note": "ok"}
        ),
        "DayClosed": {**DAY, "data": {"business_date": "2026-03-20"}},
    }


# ------------------------------------------------------------ bad values per kind of field

# (label, value, reason substring). Values a field of that kind must refuse.
UNSAFE = "must not contain control characters"  # contract 1.1: no Cc, Cs, Zl, Zp in ids and texts
REFERENCE = [
    ("empty", "", "at least 1 character"),
    ("129 chars", "r" * 129, "at most 128 characters"),
    ("NUL", "B\x001", UNSAFE),
    ("newline", "B1\n", UNSAFE),
    ("escape character", "B\x1b[31m1", UNSAFE),
    ("C1 control", "B\x851", UNSAFE),
    ("line separator", "B\u20281", UNSAFE),
    ("integer", 7, "valid string"),
    ("float", 7.5, "valid string"),
    ("boolean", True, "valid string"),
    ("null", None, "valid string"),
    ("list", ["B1"], "valid string"),
    ("object", {"id": "B1"}, "valid string"),
]
ACCOUNT = [
    ("empty", "", "should match pattern"),
    ("space", "A 1", "should match pattern"),
    ("slash", "A/1", "should match pattern"),
    ("non-ascii", "账户1", "should match pattern"),
    ("65 chars", "A" * 65, "should match pattern"),
    ("integer", 12, "valid string"),
    ("null", None, "valid string"),
    ("list", ["A1"], "valid string"),
]
MONEY = [
    ("float", 12.5, "must be a JSON string, got float"),
    ("integer", 12, "must be a JSON string, got int"),
    ("three decimals", "12.345", "at most 12 before the point and 2 after it"),
    ("13 integer digits", "1000000000000.00", "at most 12 before the point and 2 after it"),
    ("negative", "-12.00", "decimal string"),
    ("zero", "0", "greater than zero"),
    ("zero with cents", "0.00", "greater than zero"),
    ("exponent", "1e3", "decimal string"),
    ("thousands separator", "1,000.00", "decimal string"),
    ("leading space", " 12.00", "decimal string"),
    ("trailing point", "12.", "decimal string"),
    ("bare fraction", ".50", "decimal string"),
    ("plus sign", "+12.00", "decimal string"),
    ("leading zero", "012.00", "decimal string"),
    ("16 integer digits", "1234567890123456.00", "decimal string"),
    ("NaN", "NaN", "decimal string"),
    ("Infinity", "Infinity", "decimal string"),
    ("empty", "", "decimal string"),
    ("fullwidth digits", "１２.００", "decimal string"),
    ("currency sign", "¥12.00", "decimal string"),
    ("boolean", True, "got bool"),
    ("null", None, "got NoneType"),
    ("object", {"amount": "12.00"}, "got dict"),
]
DATE = [
    ("month 13", "2026-13-01", "not a calendar date"),
    ("February 30", "2026-02-30", "not a calendar date"),
    ("no dashes", "20260410", "YYYY-MM-DD"),
    ("slashes", "2026/04/10", "YYYY-MM-DD"),
    ("no leading zeros", "2026-4-1", "YYYY-MM-DD"),
    ("with a time", "2026-04-10T00:00:00+08:00", "YYYY-MM-DD"),
    ("empty", "", "YYYY-MM-DD"),
    ("year 1999", "1999-12-31", "years 2000 to 2199"),
    ("year 2200", "2200-01-01", "years 2000 to 2199"),
    ("year 1", "0001-01-01", "years 2000 to 2199"),
    ("29 February 2100", "2100-02-29", "not a calendar date"),
    ("integer", 20260410, "must be a JSON string, got int"),
    ("null", None, "got NoneType"),
]
TIMESTAMP = [
    ("no offset", "2026-03-20T10:00:00", "with an offset"),
    ("space separator", "2026-03-20 10:00:00+08:00", "with an offset"),
    ("date only", "2026-03-20", "with an offset"),
    ("hour 25", "2026-03-20T25:00:00+08:00", "not a valid timestamp"),
    ("short offset", "2026-03-20T10:00:00+8", "with an offset"),
    ("no seconds", "2026-03-20T10:00+08:00", "with an offset"),
    ("zone name", "2026-03-20T10:00:00+08:00[Asia/Shanghai]", "with an offset"),
    ("epoch text", "1773972000", "with an offset"),
    ("epoch number", 1773972000, "must be a JSON string, got int"),
    ("year 1, offset +23:59", "0001-01-01T00:00:00+23:59", "years 2000 to 2199"),
    ("year 2200", "2200-01-01T00:00:00Z", "years 2000 to 2199"),
    ("offset beyond 18:00", "2026-03-20T10:00:00+18:01", "offset must be within"),
    ("offset minutes 99", "2026-03-20T10:00:00+08:99", "offset must be within"),
    ("null", None, "got NoneType"),
]
INTEGER = [
    ("text", "3", "JSON integer, got str"),
    ("float", 3.0, "JSON integer, got float"),
    ("boolean", True, "JSON integer, got bool"),
    ("null", None, "JSON integer, got NoneType"),
]
BOOLEAN = [
    ("text", "true", "true or false, got str"),
    ("integer", 1, "true or false, got int"),
    ("null", None, "true or false, got NoneType"),
    ("text yes", "yes", "true or false, got str"),
]
TEXT = [
    ("2001 chars", "t" * 2001, "at most 2000 characters"),
    ("NUL", "bounced\x00", UNSAFE),
    ("carriage return", "line\rbreak", UNSAFE),
    ("paragraph separator", "a\u2029b", UNSAFE),
    ("integer", 7, "valid string"),
    ("list", [], "valid string"),
]

FIELDS: dict[str, dict[str, list[tuple[str, Any, str]]]] = {
    "AccountOpened": {
        "customer_id": REFERENCE,
        "credit_limit": MONEY,
        "card_ref": REFERENCE,
        "currency": [
            ("lower case", "cny", "should match pattern"),
            ("four letters", "CNYY", "should match pattern"),
            ("empty", "", "should match pattern"),
            ("integer", 156, "valid string"),
            ("null", None, "valid string"),
        ],
        "phone": [
            ("33 chars", "1" * 33, "at most 32 characters"),
            ("integer", 13800000000, "valid string"),
            ("newline", "138\n0000", UNSAFE),
        ],
        "timezone": [
            ("unknown zone", "Mars/Olympus", "IANA name"),
            ("offset", "+08:00", "IANA name"),
            ("empty", "", "IANA name"),
            ("integer", 8, "must be a JSON string"),
        ],
    },
    "BillIssued": {"bill_id": REFERENCE, "amount": MONEY, "due_date": DATE},
    "RepaymentReceived": {"payment_id": REFERENCE, "amount": MONEY, "bill_id": REFERENCE[:2] + REFERENCE[2:5]},
    "RepaymentReversed": {"payment_id": REFERENCE, "reason": TEXT},
    "OverdueReported": {
        "bill_id": REFERENCE,
        "days_past_due": [
            *INTEGER,
            ("zero", 0, "greater than or equal to 1"),
            ("negative", -3, "greater than or equal to 1"),
            ("beyond 36500", 36_501, "less than or equal to 36500"),
        ],
        "outstanding": MONEY,
    },
    "RepaymentPlanAgreed": {
        "plan_id": [*REFERENCE[2:], ("with #", "L#1", "should match pattern"), ("empty", "", "at least 1 character")],
        "installments": [
            ("empty list", [], "at least 1 item"),
            ("37 installments", [{"due_date": "2026-05-01", "amount": "1.00"}] * 37, "at most 36 items"),
            ("object", {"due_date": "2026-05-01", "amount": "1.00"}, "valid list"),
            ("null", None, "valid list"),
            ("item not an object", ["2026-05-01"], "installments.0"),
            ("item float amount", [{"due_date": "2026-05-01", "amount": 50.0}], "installments.0.amount"),
            ("item three decimals", [{"due_date": "2026-05-01", "amount": "50.005"}], "installments.0.amount"),
            ("item bad date", [{"due_date": "2026-05-32", "amount": "50.00"}], "installments.0.due_date"),
            ("item missing amount", [{"due_date": "2026-05-01"}], "installments.0.amount: required field is missing"),
            ("item extra field", [{"due_date": "2026-05-01", "amount": "5.00", "fee": "1.00"}], "installments.0.fee"),
        ],
    },
    "UnlockRequested": {"request_id": REFERENCE},
    "UnlockReviewed": {"request_id": REFERENCE, "approved": BOOLEAN, "reviewer": REFERENCE, "note": TEXT},
    "DayClosed": {"business_date": DATE},
}
OPTIONAL_BY_TYPE = {"RepaymentReceived": {"bill_id"}, "AccountOpened": {"currency", "phone", "timezone"}}

ENVELOPE: dict[str, list[tuple[str, Any, str]]] = {
    "event_id": REFERENCE,
    "occurred_at": TIMESTAMP,
    "schema_version": [*INTEGER, ("version 2", 2, "must be 1"), ("version 0", 0, "must be 1")],
    "data": [
        ("null", None, "valid dictionary"),
        ("list", [], "valid dictionary"),
        ("text", "{}", "valid dictionary"),
        ("empty object", {}, "~required field is missing"),
    ],
}


def _matrix(account: str) -> Iterator[Case]:
    """Every bad value of every field of every type (envelope and data), and each field missing."""
    for kind, template in templates(account).items():
        fields = {**ENVELOPE, **({"account_id": ACCOUNT} if kind != "DayClosed" else {})}
        for field, values in fields.items():
            for label, value, reason in values:
                event = copy.deepcopy(template) | {field: value}
                expected = reason[1:] if reason.startswith("~") else f"{field}: |{reason}"
                yield Case(f"{kind}.{field}: {label}", _category(field, label), dumps(event), REJECTED, expected)
        for field, values in FIELDS[kind].items():
            for label, value, reason in values:
                event = copy.deepcopy(template)
                event["data"][field] = value
                yield Case(
                    f"{kind}.data.{field}: {label}",
                    _category(field, label),
                    dumps(event),
                    REJECTED,
                    reason if "installments." in reason else f"data.{field}: |{reason}",
                )
        for field in [*(f for f in ("event_id", "type", "occurred_at", "schema_version", "data")), "account_id"]:
            if field == "account_id" and kind == "DayClosed":
                continue
            event = {k: v for k, v in copy.deepcopy(template).items() if k != field}
            yield Case(
                f"{kind}.{field}: missing",
                "missing id or field",
                dumps(event),
                REJECTED,
                f"{field}: required field is missing",
            )
        for field in FIELDS[kind]:
            if field in OPTIONAL_BY_TYPE.get(kind, set()) or (kind == "UnlockReviewed" and field == "note"):
                continue
            event = copy.deepcopy(template)
            del event["data"][field]
            yield Case(
                f"{kind}.data.{field}: missing",
                "missing id or field",
                dumps(event),
                REJECTED,
                f"data.{field}: required field is missing",
            )
        unknown = copy.deepcopy(template) | {"Event_Id": "x"}
        yield Case(
            f"{kind}: unknown envelope field", "unknown field", dumps(unknown), REJECTED, "Event_Id: unknown field"
        )
        unknown = copy.deepcopy(template)
        unknown["data"]["comment"] = "hello"
        yield Case(
            f"{kind}: unknown data field", "unknown field", dumps(unknown), REJECTED, "data.comment: unknown field"
        )
        wrong_type = copy.deepcopy(template) | {"type": kind.lower()}
        yield Case(
            f"{kind}: type in lower case", "unknown type", dumps(wrong_type), REJECTED, "type: unknown event type"
        )


def _category(field: str, label: str) -> str:
    if label in ("float",) and field in ("amount", "credit_limit", "outstanding"):
        return "float for money"
    if label == "three decimals" or "three decimals" in label:
        return "three decimals"
    if label in ("negative", "zero", "zero with cents") and field not in ("days_past_due",):
        return "negative or zero amount"
    if field == "occurred_at":
        return "timestamp"
    if field in ("event_id", "account_id", "bill_id", "payment_id", "request_id", "customer_id", "card_ref", "plan_id"):
        return "bad id"
    return "wrong type or value"


# ------------------------------------------------------------ hand-written cases


def _syntax(account: str) -> Iterator[Case]:
    good = dumps(templates(account)["BillIssued"] | {"event_id": "corpus-syntax"})
    text = good.decode()
    malformed = "malformed JSON or not UTF-8"
    for name, raw in [
        ("truncated", good[:-1]),
        ("cut in half", good[: len(good) // 2]),
        ("trailing garbage", good + b" x"),
        ("two objects", good + good),
        ("single quotes", text.replace('"', "'").encode()),
        ("unquoted keys", text.replace('"event_id"', "event_id").encode()),
        ("trailing comma", (text[:-1] + ",}").encode()),
        ("comment", (text[:-1] + "/* note */}").encode()),
        ("NaN literal", text.replace('"100.00"', "NaN").encode()),
        ("Infinity literal", text.replace('"100.00"', "Infinity").encode()),
        ("unescaped tab in a string", text.replace("B1", "B\t1").encode()),
        ("control character in a string", text.replace("B1", "B\x011").encode()),
        ("lone surrogate escape", text.replace("B1", "B\\ud8001").encode()),
        ("bad escape", text.replace("B1", "B\\q1").encode()),
        ("number too large", text.replace('"days"', "1").replace('"100.00"', "1" + "0" * 400).encode()),
        ("deeply nested", b'{"data":' + b"[" * 2000 + b"]" * 2000 + b"}"),
        ("only an opening brace", b"{"),
        ("only a closing brace", b"}"),
        ("xml", b"<event><id>1</id></event>"),
        ("csv", b"corpus-csv,BillIssued,A1,100.00"),
    ]:
        yield Case(f"syntax: {name}", "malformed JSON", raw, REJECTED, malformed)
    for name, raw in [
        ("invalid byte 0xff in a string", good.replace(b"B1", b"B\xff1")),
        ("truncated two-byte sequence", good.replace(b"B1", b"B\xc3")),
        ("overlong encoding", good.replace(b"B1", b"B\xc0\xaf1")),
        ("encoded surrogate", good.replace(b"B1", b"B\xed\xa0\x801")),
        ("latin-1 text", good.replace(b"B1", "Bé1".encode("latin-1"))),
        ("UTF-16", text.encode("utf-16")),
        ("UTF-8 byte order mark", b"\xef\xbb\xbf" + good),
        ("random bytes", bytes(range(128, 256))),
    ]:
        yield Case(f"utf-8: {name}", "invalid UTF-8", raw, REJECTED, malformed)
    for name, raw, got in [
        ("array", b"[1,2]", "list"),
        ("string", b'"BillIssued"', "str"),
        ("number", b"42", "int"),
        ("null", b"null", "NoneType"),
        ("true", b"true", "bool"),
        ("array of events", b"[" + good + b"]", "list"),
    ]:
        yield Case(f"not an object: {name}", "not an object", raw, REJECTED, f"must be a JSON object, got {got}")
    for name, kind in [
        ("invented", "BillForgiven"),
        ("empty", ""),
        ("trailing space", "BillIssued "),
        ("integer", 7),
        ("list", ["BillIssued"]),
        ("very long", "X" * 300),
        ("command type", "LockCard"),
    ]:
        event = templates(account)["BillIssued"] | {"type": kind, "event_id": f"corpus-type-{name}"}
        yield Case(f"unknown type: {name}", "unknown type", dumps(event), REJECTED, "type: unknown event type")
    event = {k: v for k, v in templates(account)["BillIssued"].items() if k != "type"}
    yield Case("unknown type: missing", "unknown type", dumps(event), REJECTED, "type: required field is missing")
    event = templates(account)["BillIssued"] | {"type": None}
    yield Case("unknown type: null", "unknown type", dumps(event), REJECTED, "type: required field is missing")
    day = templates(account)["DayClosed"] | {"account_id": account}
    yield Case("DayClosed with an account", "unknown field", dumps(day), REJECTED, "account_id: unknown field")
    both = templates(account)["RepaymentReceived"]
    both["data"]["plan_id"] = "L1"
    yield Case("repayment naming bill and plan", "wrong type or value", dumps(both), REJECTED, "not both")
    # Size: the limit counts bytes of the whole message, whitespace included.
    padded = dumps(templates(account)["UnlockRequested"] | {"event_id": "corpus-size"})
    over = padded[:-1] + b" " * (MAX_EVENT_BYTES + 1 - len(padded)) + b"}"
    yield Case("oversized: one byte over 64 KiB", "oversized", over, REJECTED, "exceeds the 65536-byte limit")
    huge = templates(account)["RepaymentReversed"]
    huge["data"]["reason"] = "r" * 200_000
    yield Case("oversized: 200 kB reason", "oversized", dumps(huge), REJECTED, "exceeds the 65536-byte limit")
    yield Case("blank line", "empty", b"   ", SKIPPED)


def _domain(base: list[dict[str, Any]]) -> Iterator[Case]:
    """Cases whose outcome depends on what happened before: placed after the base event they refer to."""
    opened = next(e for e in base if e["type"] == "AccountOpened")
    account = opened["account_id"]
    after = opened["event_id"]
    bill = next(e for e in base if e["type"] == "BillIssued" and e["account_id"] == account)
    payment = next((e for e in base if e["type"] == "RepaymentReceived"), None)
    days = [e for e in base if e["type"] == "DayClosed"]

    def named(kind: str, data: dict[str, Any], event_id: str, target: str = account) -> bytes:
        return dumps(
            {
                "event_id": event_id,
                "type": kind,
                "account_id": target,
                "occurred_at": AT,
                "schema_version": 1,
                "data": data,
            }
        )

    # Events for an account never opened, one per type.
    for kind, template in templates("NEVER-OPENED").items():
        if kind in ("AccountOpened", "DayClosed"):
            continue
        raw = dumps(template | {"event_id": f"corpus-unopened-{kind}"})
        yield Case(f"unopened account: {kind}", "out of order", raw, REJECTED, "unknown account")
    # The same event_id with another payload; the same payload again (also reformatted).
    changed = copy.deepcopy(bill)
    changed["data"]["amount"] = "999.99"
    yield Case(
        "same event_id, other amount",
        "same event_id",
        dumps(changed),
        REJECTED,
        "already recorded with a different payload",
        bill["event_id"],
        account,
    )
    retyped = copy.deepcopy(opened) | {"event_id": bill["event_id"]}
    yield Case(
        "same event_id, other type",
        "same event_id",
        dumps(retyped),
        REJECTED,
        "different payload",
        bill["event_id"],
        account,
    )
    moved = copy.deepcopy(bill) | {"account_id": "NEVER-OPENED"}
    yield Case(
        "same event_id, other account",
        "same event_id",
        dumps(moved),
        REJECTED,
        "different payload",
        bill["event_id"],
        account,
    )
    yield Case("same event, again", "duplicate", dumps(bill), DUPLICATE, "", bill["event_id"], account)
    reformatted = json.dumps(dict(reversed(list(bill.items()))), indent=1).replace("\n", " ").encode()
    yield Case(
        "same event, keys reordered and spaced", "duplicate", reformatted, DUPLICATE, "", bill["event_id"], account
    )
    zulu = copy.deepcopy(bill)
    yield Case(
        "same event, JSON escapes",
        "duplicate",
        json.dumps(zulu, ensure_ascii=True).replace("-", "\\u002d", 1).encode(),
        DUPLICATE,
        "",
        bill["event_id"],
        account,
    )
    # Ids used twice, an account opened twice.
    again = copy.deepcopy(bill) | {"event_id": "corpus-bill-again"}
    yield Case(
        "bill_id issued twice",
        "reused id",
        dumps(again),
        REJECTED,
        "data.bill_id: bill already issued",
        bill["event_id"],
        account,
    )
    reopened = copy.deepcopy(opened) | {"event_id": "corpus-reopen"}
    yield Case("account opened twice", "reused id", dumps(reopened), REJECTED, "account already opened", after, account)
    if payment is not None:
        paid_again = copy.deepcopy(payment) | {"event_id": "corpus-payment-again"}
        yield Case(
            "payment_id received twice",
            "reused id",
            dumps(paid_again),
            REJECTED,
            "payment already received",
            payment["event_id"],
            payment["account_id"],
        )
    # Out of order on a base account: an overdue report or a reversal before its subject.
    yield Case(
        "overdue before its bill",
        "out of order",
        named(
            "OverdueReported",
            {"bill_id": "NO-SUCH-BILL", "days_past_due": 2, "outstanding": "5.00"},
            "corpus-overdue-early",
        ),
        REJECTED,
        "unknown bill",
        after,
        account,
    )
    yield Case(
        "reversal of an unknown payment",
        "out of order",
        named("RepaymentReversed", {"payment_id": "NO-SUCH-PAYMENT", "reason": "x"}, "corpus-reverse-early"),
        REJECTED,
        "unknown payment",
        after,
        account,
    )
    # The clock: a date already closed, an earlier one, by a new event id.
    if len(days) >= 2:
        last = days[1]
        closed_date = last["data"]["business_date"]
        earlier = days[0]["data"]["business_date"]
        jump = (date.fromisoformat(closed_date) + timedelta(days=365)).isoformat()  # beyond the base's days
        # Where it lands first (fengkong ingest) the reason is the first one; a Kafka worker puts a copy of
        # each DayClosed in every partition, and a copy meeting a clock that has moved on since is refused
        # as whatever it is by then (the reasons name the last closed date, never the refused one).
        behind = " || data.business_date: already closed || data.business_date: goes backwards; last closed"
        ahead = " || data.business_date: more than 31 days after the last closed date"
        for name, day, reason in (
            ("already closed", closed_date, "data.business_date: already closed" + behind),
            ("goes backwards", earlier, f"data.business_date: goes backwards; last closed {closed_date}" + behind),
            ("far in the past", "2020-01-01", "data.business_date: goes backwards" + behind),
            (
                "a year ahead",
                jump,
                f"data.business_date: more than 31 days after the last closed date {closed_date}" + ahead,
            ),
        ):
            raw = dumps({**DAY, "event_id": f"corpus-clock-{name}", "data": {"business_date": day}})
            yield Case(f"clock: {name}", "clock backwards", raw, REJECTED, reason, last["event_id"])
        yield Case("clock: the same DayClosed again", "duplicate", dumps(last), DUPLICATE, "", last["event_id"])


def _accepted(prefix: str) -> Iterator[Case]:
    """The documented handling that accepts odd input, on accounts of its own (so the base is untouched)."""
    n = 0

    def event(account: str, kind: str, data: dict[str, Any], at: str = AT, **envelope: Any) -> bytes:
        nonlocal n
        n += 1
        body = {
            "event_id": f"{prefix}-{n}",
            "type": kind,
            "account_id": account,
            "occurred_at": at,
            "schema_version": 1,
            "data": data,
        }
        return dumps(body | envelope)

    def open_(account: str, **data: Any) -> bytes:
        return event(account, "AccountOpened", {"customer_id": "C", "credit_limit": "3000.00", "card_ref": "t", **data})

    a = f"{prefix}A"
    yield Case("accepted: account with defaults only", "documented handling", open_(a), ACCEPTED)
    yield Case(
        "accepted: repayment before its bill (held as credit)",
        "out of order",
        event(a, "RepaymentReceived", {"payment_id": "P1", "amount": "40.00", "bill_id": "B1"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: the bill after its repayment",
        "out of order",
        event(a, "BillIssued", {"bill_id": "B1", "amount": "40.00", "due_date": "2026-04-10"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: review before any request (ignored)",
        "out of order",
        event(a, "UnlockReviewed", {"request_id": "R9", "approved": True, "reviewer": "op"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: unlock request while not locked (ignored)",
        "out of order",
        event(a, "UnlockRequested", {"request_id": "R1"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: repayment naming an unknown plan",
        "documented handling",
        event(a, "RepaymentReceived", {"payment_id": "P2", "amount": "5.00", "plan_id": "NOPLAN"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: note null",
        "documented handling",
        event(a, "UnlockReviewed", {"request_id": "R8", "approved": False, "reviewer": "op", "note": None}),
        ACCEPTED,
    )
    b = f"{prefix}B"
    yield Case("accepted: phone null, UTC zone", "documented handling", open_(b, phone=None, timezone="UTC"), ACCEPTED)
    yield Case(
        "accepted: timestamp in Z",
        "timestamp",
        event(b, "BillIssued", {"bill_id": "B1", "amount": "1.00", "due_date": "2026-04-01"}, "2026-03-20T02:00:00Z"),
        ACCEPTED,
    )
    yield Case(
        "accepted: lower-case t and z",
        "timestamp",
        event(b, "BillIssued", {"bill_id": "B2", "amount": "1.00", "due_date": "2026-04-01"}, "2026-03-20t02:00:00z"),
        ACCEPTED,
    )
    yield Case(
        "accepted: nanoseconds",
        "timestamp",
        event(
            b,
            "BillIssued",
            {"bill_id": "B3", "amount": "1.00", "due_date": "2026-04-01"},
            "2026-03-20T10:00:00.123456789+08:00",
        ),
        ACCEPTED,
    )
    yield Case(
        "accepted: negative offset",
        "timestamp",
        event(
            b, "BillIssued", {"bill_id": "B4", "amount": "1.00", "due_date": "2026-04-01"}, "2026-03-19T21:00:00-05:00"
        ),
        ACCEPTED,
    )
    yield Case(
        "accepted: one-digit cents",
        "documented handling",
        event(b, "BillIssued", {"bill_id": "B5", "amount": "1.5", "due_date": "2026-04-01"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: largest amount",
        "documented handling",
        event(b, "BillIssued", {"bill_id": "B6", "amount": "999999999999.99", "due_date": "2026-04-01"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: the bounds of dates, times and days past due",
        "documented handling",
        event(
            b,
            "BillIssued",
            {"bill_id": "B7", "amount": "1.00", "due_date": "2199-12-31"},
            "2000-01-01T00:00:00+18:00",
        ),
        ACCEPTED,
    )
    yield Case(
        "accepted: an id with any other Unicode (no-break and zero-width space, emoji)",
        "documented handling",
        event(b, "RepaymentReceived", {"payment_id": "P9\u00a0\u200b🙂", "amount": "0.01"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: smallest amount",
        "documented handling",
        event(b, "RepaymentReceived", {"payment_id": "P1", "amount": "0.01"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: 128-char ids",
        "documented handling",
        event(b, "BillIssued", {"bill_id": "i" * 128, "amount": "1.00", "due_date": "2026-04-01"}, event_id="e" * 128),
        ACCEPTED,
    )
    yield Case(
        "accepted: unicode in text fields",
        "documented handling",
        event(b, "RepaymentReversed", {"payment_id": "P1", "reason": "余额不足 🙂"}),
        ACCEPTED,
    )
    c = f"{prefix}C"
    yield Case("accepted: an account for a plan", "documented handling", open_(c), ACCEPTED)
    yield Case(
        "accepted: a bill to go overdue",
        "documented handling",
        event(c, "BillIssued", {"bill_id": "B1", "amount": "36.00", "due_date": "2026-03-01"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: the overdue report (locks)",
        "documented handling",
        event(c, "OverdueReported", {"bill_id": "B1", "days_past_due": 19, "outstanding": "36.00"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: a plan of 36 installments",
        "documented handling",
        event(
            c,
            "RepaymentPlanAgreed",
            {"plan_id": "L1", "installments": [{"due_date": "2026-05-01", "amount": "1.00"}] * 36},
        ),
        ACCEPTED,
    )
    yield Case(
        "rejected: overdue on a bill restructured into a plan",
        "out of order",
        event(c, "OverdueReported", {"bill_id": "B1", "days_past_due": 20, "outstanding": "36.00"}),
        REJECTED,
        "restructured into plan L1",
    )
    yield Case(
        "rejected: overdue on an installment beyond the plan",
        "out of order",
        event(c, "OverdueReported", {"bill_id": "L1#37", "days_past_due": 1, "outstanding": "1.00"}),
        REJECTED,
        "unknown bill",
    )
    yield Case(
        "rejected: a second plan while one is active",
        "reused id",
        event(
            c, "RepaymentPlanAgreed", {"plan_id": "L2", "installments": [{"due_date": "2026-05-01", "amount": "1.00"}]}
        ),
        REJECTED,
        "still active",
    )
    yield Case(
        "accepted: unlock request with a plan (opens a review)",
        "documented handling",
        event(c, "UnlockRequested", {"request_id": "R1"}),
        ACCEPTED,
    )
    yield Case(
        "accepted: a decision for another request (ignored)",
        "out of order",
        event(c, "UnlockReviewed", {"request_id": "R0", "approved": True, "reviewer": "op"}),
        ACCEPTED,
    )
    yield Case(
        "rejected: reversal twice",
        "reused id",
        event(b, "RepaymentReversed", {"payment_id": "P1", "reason": "again"}),
        REJECTED,
        "already reversed",
    )
    pad = open_(f"{prefix}D")
    exact = pad[:-1] + b" " * (MAX_EVENT_BYTES - len(pad)) + b"}"
    yield Case("accepted: exactly 64 KiB (whitespace)", "oversized", exact, ACCEPTED)


def cases(base: list[dict[str, Any]], account: str = "BADINPUT") -> list[Case]:
    found = [*_matrix(account), *_syntax(account), *_domain(base), *_accepted("ODD")]
    names = [case.name for case in found]
    assert len(set(names)) == len(names), "case names are unique"
    return found


def interleave(base: list[dict[str, Any]], corpus: list[Case]) -> list[tuple[bytes, Case | None]]:
    """The base stream with each case after what it needs; contract cases spread evenly."""
    position = {event["event_id"]: index for index, event in enumerate(base)}
    slots: dict[int, list[Case]] = {}
    free = [case for case in corpus if case.after is None]
    for n, case in enumerate(free):
        slots.setdefault(n * len(base) // max(1, len(free)), []).append(case)
    for case in corpus:
        if case.after is not None:
            slots.setdefault(position[case.after] + 1, []).append(case)
    stream: list[tuple[bytes, Case | None]] = []
    for index, event in enumerate(base):
        stream += [(case.raw, case) for case in slots.get(index, [])]
        stream.append((dumps(event), None))
    stream += [(case.raw, case) for case in slots.get(len(base), [])]
    return stream


def reason_matches(case: Case, reason: str) -> bool:
    """The refusal names what the case expects: every '|'-separated part of one ' || ' alternative appears in it."""
    return any(all(part in reason for part in choice.split("|")) for choice in case.reason.split(" || "))
