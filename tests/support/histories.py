"""Overdue histories for what-if tests, and an oracle that counts locks over them without the engine.

Each account takes bills one at a time: a bill is issued, billing may report
it overdue at rising days past due, and it is either repaid in full (after
its last report, or on time) or left unpaid (then the account takes no more
bills). Under such histories a lock threshold of `t` days does exactly this,
which the oracle computes over the events alone: the first report of an
unpaid bill at `t` days or more locks the card (and suspends the line) unless
it is locked already, and a full repayment unlocks a locked card.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

START = datetime(2026, 1, 5, 10, 0)


@dataclass(frozen=True)
class BillPlan:
    amount: int
    reports: tuple[int, ...]  # days past due at each report, rising
    repaid: bool


@dataclass
class Locks:
    """What a lock threshold does to the generated histories."""

    locks: int = 0
    unlocks: int = 0
    first_lock: dict[str, date] = field(default_factory=dict)
    actions: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))  # (event, action)

    @property
    def locked_accounts(self) -> set[str]:
        return set(self.first_lock)


def _event(event_id: str, kind: str, account: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "account_id": account,
        "occurred_at": at.isoformat() + "+08:00",
        "schema_version": 1,
        "data": data,
    }


def history(account: str, bills: list[BillPlan]) -> list[dict[str, Any]]:
    """One account's events, in time order."""
    events = [
        _event(
            f"{account}-open",
            "AccountOpened",
            account,
            START,
            {"customer_id": f"cust-{account}", "credit_limit": "5000.00", "card_ref": f"tok-{account}"},
        )
    ]
    for k, bill in enumerate(bills, start=1):
        issued = START + timedelta(days=40 * (k - 1) + 1)
        due = issued + timedelta(days=10)
        bill_id = f"{account}-b{k}"
        amount = f"{bill.amount}.00"
        events.append(
            _event(
                f"{bill_id}-issued",
                "BillIssued",
                account,
                issued,
                {"bill_id": bill_id, "amount": amount, "due_date": due.date().isoformat()},
            )
        )
        for dpd in bill.reports:
            events.append(
                _event(
                    f"{bill_id}-dpd{dpd}",
                    "OverdueReported",
                    account,
                    due + timedelta(days=dpd),
                    {"bill_id": bill_id, "days_past_due": dpd, "outstanding": amount},
                )
            )
        if not bill.repaid:
            break
        paid = due + timedelta(days=bill.reports[-1] + 1 if bill.reports else -1)
        events.append(
            _event(
                f"{bill_id}-paid",
                "RepaymentReceived",
                account,
                paid,
                {"payment_id": f"{bill_id}-pay", "amount": amount},
            )
        )
    return events


bill_plans = st.builds(
    BillPlan,
    amount=st.integers(10, 3000),
    reports=st.lists(st.integers(1, 25), max_size=5, unique=True).map(lambda days: tuple(sorted(days))),
    repaid=st.booleans(),
)
portfolios = st.lists(st.lists(bill_plans, min_size=1, max_size=5), min_size=1, max_size=8)


def portfolio_events(plans: list[list[BillPlan]]) -> list[dict[str, Any]]:
    """Every account's events, merged in time order (ties: account order)."""
    events = [event for i, bills in enumerate(plans) for event in history(f"H{i:02d}", bills)]
    return sorted(events, key=lambda e: e["occurred_at"])


def lines(events: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(event).encode() for event in events]


def oracle(events: list[dict[str, Any]], min_days_past_due: int) -> Locks:
    """The locks a threshold makes, from the events alone."""
    found, locked = Locks(), set()
    for event in events:
        account = event["account_id"]
        if event["type"] == "OverdueReported" and event["data"]["days_past_due"] >= min_days_past_due:
            if account not in locked:
                locked.add(account)
                found.locks += 1
                found.first_lock.setdefault(account, date.fromisoformat(event["occurred_at"][:10]))
                found.actions[account].append((event["event_id"], "lock"))
        elif event["type"] == "RepaymentReceived" and account in locked:
            locked.discard(account)
            found.unlocks += 1
            found.actions[account].append((event["event_id"], "unlock"))
    return found
