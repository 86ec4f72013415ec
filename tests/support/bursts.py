"""A portfolio and an overdue burst (the emergency brake's tests), and the rule's oracle in a few lines.

The portfolio is opened and billed first; then a share of it goes overdue
within one hour of event time (billing's delinquency batch), in one of a few
shapes, among unrelated events. `oracle` states contract rule 8 directly over
the burst: a lock is held when the locks already emitted in the hour before
its cause reach max(ceil(2% of active), 50).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

CST = timezone(timedelta(hours=8))
OPENED = datetime(2026, 3, 1, 9, tzinfo=CST)
BATCH_TIME = datetime(2026, 3, 21, 2, 30, tzinfo=CST)  # the delinquency batch, the day after the due date
SHAPES = ("one_instant", "uniform", "front_loaded", "two_waves", "unsorted")


@dataclass(frozen=True)
class Burst:
    accounts: int
    overdue: int
    shape: str
    span_minutes: int  # the burst's causes fall within [BATCH_TIME, BATCH_TIME + span]
    seed: int

    @property
    def bound(self) -> int:
        return max(math.ceil(self.accounts * 2 / 100), 50)


def _event(kind: str, event_id: str, account: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "account_id": account,
        "occurred_at": at.isoformat(),
        "schema_version": 1,
        "data": data,
    }


def account_id(n: int) -> str:
    return f"P{n:05d}"


def portfolio(accounts: int) -> list[bytes]:
    """Every account opened, and billed 100.00 due 2026-03-20."""
    events = []
    for n in range(accounts):
        who = account_id(n)
        data = {"customer_id": f"c{n}", "credit_limit": "3000.00", "card_ref": f"tok{n}"}
        events.append(_event("AccountOpened", f"{who}-open", who, OPENED, data))
        bill = {"bill_id": f"{who}-b1", "amount": "100.00", "due_date": "2026-03-20"}
        events.append(_event("BillIssued", f"{who}-bill", who, OPENED + timedelta(days=1), bill))
    return [orjson.dumps(e) for e in events]


def _offsets(burst: Burst, rng: random.Random) -> list[float]:
    """Minutes after the batch time, one per overdue account, in the shape asked."""
    span, n = burst.span_minutes, burst.overdue
    if burst.shape == "one_instant" or span == 0:
        return [0.0] * n
    if burst.shape == "front_loaded":
        return sorted(span * rng.random() ** 3 for _ in range(n))
    if burst.shape == "two_waves":
        return sorted(rng.choice((0.0, span * 0.8)) + rng.random() * span * 0.2 for _ in range(n))
    offsets = sorted(span * rng.random() for _ in range(n))
    if burst.shape == "unsorted":  # billing's batch not in time order
        rng.shuffle(offsets)
    return offsets


def burst_events(burst: Burst) -> tuple[list[bytes], list[tuple[str, datetime]]]:
    """The burst's messages (overdue reports among early repayments of others), and (account, cause time) in order."""
    rng = random.Random(burst.seed)
    chosen = rng.sample(range(burst.accounts), burst.overdue)
    others = [n for n in range(burst.accounts) if n not in set(chosen)]
    events, locks = [], []
    for n, offset in zip(chosen, _offsets(burst, rng), strict=True):
        who, at = account_id(n), BATCH_TIME + timedelta(minutes=offset)
        report = {"bill_id": f"{who}-b1", "days_past_due": 1, "outstanding": "100.00"}
        events.append(_event("OverdueReported", f"{who}-late", who, at, report))
        locks.append((who, at))
        if others and rng.random() < 0.3:  # an unrelated repayment in between
            payer = account_id(others.pop())
            payment = {"payment_id": f"{payer}-pay", "amount": "100.00"}
            events.append(_event("RepaymentReceived", f"{payer}-pay", payer, at, payment))
    return [orjson.dumps(e) for e in events], locks


def oracle(locks: list[tuple[str, datetime]], bound: int) -> set[str]:
    """Contract rule 8 over locks judged in this order: the accounts whose lock is held."""
    emitted: list[datetime] = []
    held = set()
    for account, at in locks:
        if sum(1 for t in emitted if at - timedelta(hours=1) < t <= at) >= bound:
            held.add(account)
        else:
            emitted.append(at)
    return held
