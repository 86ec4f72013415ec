"""Writes contract_scenario.jsonl and contract_scenario.expected.json.

The scenario and its expected commands are written from CONTRACT.md alone
(the default policy, default-v1), not from the engine's output. Run it
again only when the scenario itself changes:

    python tests/data/make_contract_scenario.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
events: list[dict[str, Any]] = []
expected: list[dict[str, Any]] = []
counter = 0


def event(kind: str, at: str, data: dict[str, Any], account: str | None) -> str:
    global counter
    counter += 1
    event_id = f"evt-{counter:04d}"
    body: dict[str, Any] = {"event_id": event_id, "type": kind}
    if account:
        body["account_id"] = account
    body.update({"occurred_at": at, "schema_version": 1, "data": data})
    events.append(body)
    return event_id


def expect(cause: str, account: str, kind: str, rule: str, **fields: Any) -> None:
    expected.append({"cause_event_id": cause, "account_id": account, "type": kind, "rule": rule, **fields})


def lock(cause: str, account: str, rule: str = "lock.overdue", suspend: bool = True) -> None:
    expect(cause, account, "LockCard", rule)
    if suspend:
        expect(cause, account, "SuspendCreditLine", rule)


def notice(cause: str, account: str, template: str, deliver_at: str) -> None:
    expect(cause, account, "SendNotice", "notice.overdue", template=template, channel="sms", deliver_at=deliver_at)


def opened(account: str, at: str, limit: str) -> None:
    event(
        "AccountOpened",
        at,
        {
            "customer_id": f"cust-{account}",
            "credit_limit": limit,
            "card_ref": f"tok-{account}",
            "phone": "+8613800138000",
        },
        account,
    )


# --- C1: lock, notices (one in quiet hours), plan, unlock review with a deadline
# across the National Day holiday and the Saturday 2026-10-10 make-up working
# day, escalation, approval, a broken plan, plan complete.
opened("C1", "2026-08-01T10:00:00+08:00", "10000.00")
event(
    "BillIssued", "2026-08-10T09:00:00+08:00", {"bill_id": "C1-b1", "amount": "3000.00", "due_date": "2026-09-01"}, "C1"
)
e = event(
    "OverdueReported",
    "2026-09-02T23:30:00+08:00",
    {"bill_id": "C1-b1", "days_past_due": 1, "outstanding": "3000.00"},
    "C1",
)
lock(e, "C1")
notice(e, "C1", "overdue_d1", "2026-09-03T08:00:00+08:00")
event(
    "OverdueReported",
    "2026-09-03T10:00:00+08:00",
    {"bill_id": "C1-b1", "days_past_due": 2, "outstanding": "3000.00"},
    "C1",
)
e = event(
    "OverdueReported",
    "2026-09-04T10:00:00+08:00",
    {"bill_id": "C1-b1", "days_past_due": 3, "outstanding": "3000.00"},
    "C1",
)
notice(e, "C1", "overdue_d3", "2026-09-04T10:00:00+08:00")
event(
    "RepaymentPlanAgreed",
    "2026-09-20T14:00:00+08:00",
    {
        "plan_id": "P1",
        "installments": [
            {"due_date": "2026-10-20", "amount": "1000.00"},
            {"due_date": "2026-11-20", "amount": "1000.00"},
            {"due_date": "2026-12-20", "amount": "1000.00"},
        ],
    },
    "C1",
)
# Requested Wed 2026-09-30: business days after it are Oct 8 (Thu), 9 (Fri),
# 10 (Sat, make-up working day), 12 (Mon), 13 (Tue): the deadline is Oct 13.
event("UnlockRequested", "2026-09-30T10:00:00+08:00", {"request_id": "R1"}, "C1")
for day in ("2026-09-30", "2026-10-07", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-11", "2026-10-12"):
    event("DayClosed", f"{day}T23:59:00+08:00", {"business_date": day}, None)
e = event("DayClosed", "2026-10-13T23:59:00+08:00", {"business_date": "2026-10-13"}, None)
expect(
    e,
    "C1",
    "SendNotice",
    "review.escalate",
    template="review_overdue",
    channel="ops",
    deliver_at="2026-10-13T23:59:00+08:00",
)
e = event(
    "UnlockReviewed", "2026-10-14T11:00:00+08:00", {"request_id": "R1", "approved": True, "reviewer": "ops-7"}, "C1"
)
expect(e, "C1", "UnlockCard", "review.approved")
event("DayClosed", "2026-10-14T23:59:00+08:00", {"business_date": "2026-10-14"}, None)
event(
    "RepaymentReceived",
    "2026-10-19T12:00:00+08:00",
    {"payment_id": "C1-p1", "amount": "1000.00", "plan_id": "P1"},
    "C1",
)
e = event(
    "OverdueReported",
    "2026-11-21T10:00:00+08:00",
    {"bill_id": "P1#2", "days_past_due": 1, "outstanding": "1000.00"},
    "C1",
)
lock(e, "C1", "lock.broken_plan", suspend=False)
notice(e, "C1", "overdue_d1", "2026-11-21T10:00:00+08:00")
e = event(
    "RepaymentReceived",
    "2026-11-25T12:00:00+08:00",
    {"payment_id": "C1-p2", "amount": "2000.00", "plan_id": "P1"},
    "C1",
)
expect(e, "C1", "UnlockCard", "plan.complete")
expect(e, "C1", "RestoreCreditLine", "plan.complete")

# --- C2: full repayment (partial first, then the rest without a bill_id) unlocks and restores.
opened("C2", "2026-08-01T10:00:00+08:00", "2000.00")
event(
    "BillIssued", "2026-08-10T09:00:00+08:00", {"bill_id": "C2-b1", "amount": "800.00", "due_date": "2026-09-01"}, "C2"
)
e = event(
    "OverdueReported",
    "2026-09-02T10:00:00+08:00",
    {"bill_id": "C2-b1", "days_past_due": 1, "outstanding": "800.00"},
    "C2",
)
lock(e, "C2")
notice(e, "C2", "overdue_d1", "2026-09-02T10:00:00+08:00")
event(
    "RepaymentReceived",
    "2026-09-03T10:00:00+08:00",
    {"payment_id": "C2-p1", "amount": "500.00", "bill_id": "C2-b1"},
    "C2",
)
e = event("RepaymentReceived", "2026-09-04T10:00:00+08:00", {"payment_id": "C2-p2", "amount": "300.00"}, "C2")
expect(e, "C2", "UnlockCard", "unlock.full_repayment")
expect(e, "C2", "RestoreCreditLine", "unlock.full_repayment")

# --- C3: the third overdue bill within 365 days halves the limit; then two
# rounds of six bills paid on time restore it 25% of the original at a time.
opened("C3", "2025-12-01T10:00:00+08:00", "6000.00")
for n, due in enumerate(("2026-01-10", "2026-05-10", "2026-09-10"), start=1):
    bill = f"C3-b{n}"
    event("BillIssued", f"{due[:8]}01T09:00:00+08:00", {"bill_id": bill, "amount": "500.00", "due_date": due}, "C3")
    overdue_day = due[:8] + "11"
    e = event(
        "OverdueReported",
        f"{overdue_day}T09:00:00+08:00",
        {"bill_id": bill, "days_past_due": 1, "outstanding": "500.00"},
        "C3",
    )
    lock(e, "C3")
    if n == 3:
        expect(e, "C3", "AdjustCreditLimit", "accumulation.limit_cut", new_limit="3000.00")
    notice(e, "C3", "overdue_d1", f"{overdue_day}T09:00:00+08:00")
    e = event(
        "RepaymentReceived",
        f"{due[:8]}12T09:00:00+08:00",
        {"payment_id": f"C3-p{n}", "amount": "500.00", "bill_id": bill},
        "C3",
    )
    expect(e, "C3", "UnlockCard", "unlock.full_repayment")
    expect(e, "C3", "RestoreCreditLine", "unlock.full_repayment")
for n in range(4, 16):
    year, month = (2026, 6 + n) if n <= 6 else (2027, n - 6)
    bill = f"C3-b{n}"
    event(
        "BillIssued",
        f"{year}-{month:02d}-01T09:00:00+08:00",
        {"bill_id": bill, "amount": "400.00", "due_date": f"{year}-{month:02d}-20"},
        "C3",
    )
    e = event(
        "RepaymentReceived",
        f"{year}-{month:02d}-15T09:00:00+08:00",
        {"payment_id": f"C3-p{n}", "amount": "400.00", "bill_id": bill},
        "C3",
    )
    if n == 9:
        expect(e, "C3", "AdjustCreditLimit", "repair.limit_step", new_limit="4500.00")
    if n == 15:
        expect(e, "C3", "AdjustCreditLimit", "repair.limit_step", new_limit="6000.00")

# --- C4: at most 3 customer notices in any 7 days; quiet hours defer to 08:00.
opened("C4", "2026-08-01T10:00:00+08:00", "5000.00")
for n in range(1, 5):
    event(
        "BillIssued",
        "2026-08-10T09:00:00+08:00",
        {"bill_id": f"C4-b{n}", "amount": "100.00", "due_date": "2026-09-01"},
        "C4",
    )
for n in range(1, 5):
    e = event(
        "OverdueReported",
        f"2026-09-02T09:0{n}:00+08:00",
        {"bill_id": f"C4-b{n}", "days_past_due": 1, "outstanding": "100.00"},
        "C4",
    )
    if n == 1:
        lock(e, "C4")
    if n == 3:  # the third bill overdue within 365 days, though all fell due at once
        expect(e, "C4", "AdjustCreditLimit", "accumulation.limit_cut", new_limit="2500.00")
    if n <= 3:
        notice(e, "C4", "overdue_d1", f"2026-09-02T09:0{n}:00+08:00")
event(
    "OverdueReported",
    "2026-09-04T09:00:00+08:00",
    {"bill_id": "C4-b1", "days_past_due": 3, "outstanding": "100.00"},
    "C4",
)
event(
    "OverdueReported",
    "2026-09-08T09:00:00+08:00",
    {"bill_id": "C4-b1", "days_past_due": 7, "outstanding": "100.00"},
    "C4",
)
e = event(
    "OverdueReported",
    "2026-09-16T22:30:00+08:00",
    {"bill_id": "C4-b1", "days_past_due": 15, "outstanding": "100.00"},
    "C4",
)
notice(e, "C4", "overdue_d15", "2026-09-17T08:00:00+08:00")

# --- C5: plan, unlock request, first installment paid in full approves automatically.
opened("C5", "2026-08-01T10:00:00+08:00", "3000.00")
event(
    "BillIssued", "2026-08-10T09:00:00+08:00", {"bill_id": "C5-b1", "amount": "600.00", "due_date": "2026-09-01"}, "C5"
)
e = event(
    "OverdueReported",
    "2026-09-02T10:00:00+08:00",
    {"bill_id": "C5-b1", "days_past_due": 1, "outstanding": "600.00"},
    "C5",
)
lock(e, "C5")
notice(e, "C5", "overdue_d1", "2026-09-02T10:00:00+08:00")
event(
    "RepaymentPlanAgreed",
    "2026-09-05T14:00:00+08:00",
    {
        "plan_id": "P5",
        "installments": [
            {"due_date": "2026-10-05", "amount": "300.00"},
            {"due_date": "2026-11-05", "amount": "300.00"},
        ],
    },
    "C5",
)
event("UnlockRequested", "2026-09-06T10:00:00+08:00", {"request_id": "R5"}, "C5")
e = event(
    "RepaymentReceived", "2026-09-07T10:00:00+08:00", {"payment_id": "C5-p1", "amount": "300.00", "plan_id": "P5"}, "C5"
)
expect(e, "C5", "UnlockCard", "review.auto_approve")
e = event(
    "RepaymentReceived", "2026-10-30T10:00:00+08:00", {"payment_id": "C5-p2", "amount": "300.00", "plan_id": "P5"}, "C5"
)
expect(e, "C5", "RestoreCreditLine", "plan.complete")

if __name__ == "__main__":
    ordered = sorted(range(len(events)), key=lambda i: (events[i]["occurred_at"], i))
    # Sort by instant, DayClosed after same-instant account events; all offsets are +08:00.
    order = {events[i]["event_id"]: rank for rank, i in enumerate(ordered)}
    lines = [json.dumps(events[i], ensure_ascii=False) for i in ordered]
    (HERE / "contract_scenario.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected.sort(key=lambda c: order[c["cause_event_id"]])
    (HERE / "contract_scenario.expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    print(f"{len(events)} events, {len(expected)} expected commands")
