"""Helpers for read-model tests: random histories, table snapshots, the in-memory reference."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from adapters.store.tables import POSITIONS, ProjectionDatabase
from events.commands import CommandType
from projections.base import Row
from projections.dispatch import Dispatcher
from projections.registry import PROJECTIONS, TABLES
from tests.builders import Events
from tests.support.memory_tables import MemoryTables
from tests.support.wiring import log_at, open_engine

CST = timezone(timedelta(hours=8))
ACTIONS = (
    "bill",
    "pay",
    "pay_bill",
    "overdue",
    "overdue",
    "plan",
    "pay_plan",
    "request",
    "review_yes",
    "review_no",
    "reverse",
    "close_day",
    "close_day",
)


@st.composite
def histories(draw: st.DrawFn) -> list[bytes]:
    """A few accounts living through random bills, payments, overdue reports, plans and reviews.

    Not every event is acceptable to the engine (that is the point of some): rejected ones
    are simply not stored, as in production.
    """
    accounts = draw(st.integers(1, 4))
    clock = datetime(2026, 3, 2, 9, tzinfo=CST)
    builders = [Events(f"H{i}") for i in range(accounts)]
    days = Events("D")
    events: list[dict[str, Any]] = []
    bills: list[list[str]] = [[] for _ in builders]
    payments: list[list[str]] = [[] for _ in builders]
    plans: list[list[str]] = [[] for _ in builders]
    requests: list[list[str]] = [[] for _ in builders]
    overdue_days: dict[str, int] = {}
    for i, builder in enumerate(builders):
        limit = draw(st.sampled_from(["3000.00", "8000.00", "20000.00"]))
        events.append(builder.opened(at=(clock + timedelta(minutes=i)).isoformat(), limit=limit))
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(0, accounts - 1),
                st.sampled_from(ACTIONS),
                st.integers(1, 40),
                st.decimals(min_value=Decimal("1.00"), max_value=Decimal("3000.00"), places=2),
                st.integers(0, 30),
            ),
            min_size=1,
            max_size=70,
        )
    )
    for n, (who, action, k, amount, hours) in enumerate(steps):
        clock += timedelta(hours=hours + 1)
        at = clock.isoformat()
        b = builders[who]
        tag = f"{who}-{n}"
        if action == "bill":
            bills[who].append(f"B{tag}")
            due = (clock + timedelta(days=k % 20)).date().isoformat()
            events.append(b.bill(f"B{tag}", str(amount), due, at=at))
        elif action in ("pay", "pay_bill"):
            payments[who].append(f"P{tag}")
            target = {"bill_id": bills[who][k % len(bills[who])]} if action == "pay_bill" and bills[who] else {}
            events.append(b.pay(f"P{tag}", str(amount), at, **target))
        elif action == "overdue" and bills[who]:
            bill = bills[who][k % len(bills[who])]
            overdue_days[bill] = overdue_days.get(bill, 0) + k
            events.append(b.overdue(bill, overdue_days[bill], str(amount), at))
        elif action == "plan":
            plans[who].append(f"L{tag}")
            first = clock.date() + timedelta(days=10)
            installments = [((first + timedelta(days=30 * j)).isoformat(), str(amount)) for j in range(1 + k % 3)]
            events.append(b.plan(f"L{tag}", at, *installments))
        elif action == "pay_plan" and plans[who]:
            payments[who].append(f"P{tag}")
            events.append(b.pay(f"P{tag}", str(amount), at, plan_id=plans[who][-1]))
        elif action == "request":
            requests[who].append(f"R{tag}")
            events.append(b.request(f"R{tag}", at))
        elif action in ("review_yes", "review_no") and requests[who]:
            events.append(b.review(requests[who][-1], action == "review_yes", at))
        elif action == "reverse" and payments[who]:
            events.append(b.reverse(payments[who][k % len(payments[who])], at))
        elif action == "close_day":
            closed = days.day_closed(clock.date().isoformat())
            closed["occurred_at"] = at
            events.append(closed)
    return [json.dumps(event).encode() for event in events]


def snapshot(db: ProjectionDatabase) -> dict[str, list[Row]]:
    """Every read-model table's rows (and the positions) in key order."""
    rows = {name: db.table_rows(table) for name, table in TABLES.items()}
    rows[POSITIONS] = [
        {"projection": p, "position": n} for p, n in sorted(db.query(f"SELECT projection, position FROM {POSITIONS}"))
    ]
    return rows


def memory_reference(store: str) -> dict[str, list[Row]]:
    """The read models computed purely in memory from the store's notifications."""
    log = log_at(store)
    try:
        notifications = log.read(1, 10**9)
    finally:
        log.close()
    tables = MemoryTables()
    Dispatcher(PROJECTIONS).apply(notifications, {}, tables)
    return {name: tables.table(table) for name, table in TABLES.items()}


def locked_by_commands(store: str) -> set[str]:
    """Accounts whose last card command is LockCard, read from the engine's commands."""
    engine = open_engine(store)
    try:
        last: dict[str, str] = {}
        for command in engine.commands():
            if command.type in (CommandType.LOCK_CARD, CommandType.UNLOCK_CARD):
                last[command.account_id] = command.type
    finally:
        engine.close()
    return {account for account, kind in last.items() if kind == CommandType.LOCK_CARD}
