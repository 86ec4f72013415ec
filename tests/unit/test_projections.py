"""Projection logic without a database: aggregates' events in, rows in dictionaries out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.account import CreditAccount, StoredRow
from engine.clock import PlatformClock
from projections.account_status import ACCOUNT_STATUS
from projections.base import Row, Table
from projections.collection import COLLECTION_QUEUE
from projections.credit_history import CREDIT_HISTORY
from projections.decisions import DECISIONS
from projections.decoding import RawNotification
from projections.delinquency import DELINQUENCY_DAILY, ROLL_RATES
from projections.dispatch import Dispatcher
from projections.docs import render_docs
from projections.registry import PROJECTIONS
from tests.builders import DEFAULT, Events, parsed
from tests.support.memory_tables import MemoryTables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "read-models.md"


class Store:
    """Pure aggregates and their events as numbered notifications, as the store would list them."""

    def __init__(self) -> None:
        self.accounts: dict[str, CreditAccount] = {}
        self.clock = PlatformClock()
        self.notifications: list[RawNotification] = []

    def send(self, *events: dict[str, Any]) -> None:
        for event in events:
            item = parsed(event)
            if event["type"] == "DayClosed":
                self.clock.close(item)
                self._record(self.clock.collect())
                for account in self.accounts.values():  # the engine does this only for due accounts
                    account.handle(item, DEFAULT)
                    self._record(account.collect())
                continue
            account = self.accounts.get(event["account_id"])
            if account is None:
                account = self.accounts[event["account_id"]] = CreditAccount(event["account_id"])
            account.handle(item, DEFAULT)
            self._record(account.collect())

    def _record(self, rows: list[StoredRow]) -> None:
        for stream, _, topic, state in rows:
            self.notifications.append(RawNotification(len(self.notifications) + 1, stream, topic, state))

    def project(self) -> MemoryTables:
        tables = MemoryTables()
        Dispatcher(PROJECTIONS).apply(self.notifications, {}, tables)
        return tables


def rows(tables: MemoryTables, table: Table, **equal: Any) -> list[Row]:
    return [row for row in tables.table(table) if all(row[k] == v for k, v in equal.items())]


def one(tables: MemoryTables, table: Table, **equal: Any) -> Row:
    found = rows(tables, table, **equal)
    assert len(found) == 1, found
    return found[0]


def lock_then_repay() -> tuple[Store, Events]:
    a = Events("A1")
    store = Store()
    store.send(
        a.opened(limit="5000.00"),
        a.bill("b1", "1200.00", "2026-08-20"),
        a.overdue("b1", 3, "1210.00", "2026-08-23T02:30:00"),
    )
    return store, a


def test_a_lock_shows_in_status_history_decisions_and_queue() -> None:
    store, _ = lock_then_repay()
    tables = store.project()
    status = one(tables, ACCOUNT_STATUS, account_id="A1")
    assert status["status"] == "locked" and status["card_locked"] and status["credit_line_suspended"]
    assert status["overdue_outstanding"] == Decimal("1210.00") and status["days_past_due"] == 3
    assert status["delinquency_bucket"] == "1-30" and status["original_limit"] == Decimal("5000.00")
    assert status["score"] == DEFAULT.score.initial - DEFAULT.score.overdue_penalty
    entries = [row["entry"] for row in rows(tables, CREDIT_HISTORY, account_id="A1")]
    assert entries == [
        "AccountOpened",
        "BillIssued",
        "OverdueReported",
        "LockCard",
        "SuspendCreditLine",
        "score.overdue",
        "SendNotice",
    ]
    lock = one(tables, CREDIT_HISTORY, entry="LockCard")
    assert lock["description"] == "Card locked: bill b1 3 days past due, overdue outstanding 1210.00"
    notice = one(tables, CREDIT_HISTORY, entry="SendNotice")
    assert "held for quiet hours" in notice["description"]
    decisions = rows(tables, DECISIONS, account_id="A1")
    assert [d["rule"] for d in decisions] == [
        "account.open",
        "lock.overdue",
        "lock.overdue",
        "score.overdue",
        "notice.overdue",
    ]
    assert (
        decisions[1]["command"]["type"] == "LockCard"
        and decisions[1]["command_id"] == decisions[1]["command"]["command_id"]
    )
    queued = one(tables, COLLECTION_QUEUE, account_id="A1")
    assert queued["last_notice_template"] == "overdue_d3" and queued["notices_sent"] == 1
    assert queued["last_notice_at"].hour == 0  # 08:00 in Shanghai, stored in UTC


def test_full_repayment_unlocks_and_leaves_the_queue() -> None:
    store, a = lock_then_repay()
    store.send(a.pay("p1", "1210.00", "2026-08-24T10:00:00"))
    tables = store.project()
    status = one(tables, ACCOUNT_STATUS, account_id="A1")
    assert status["status"] == "current" and not status["card_locked"] and not status["credit_line_suspended"]
    assert rows(tables, COLLECTION_QUEUE) == []
    unlock = one(tables, CREDIT_HISTORY, entry="UnlockCard")
    assert unlock["description"] == "Card unlocked: overdue amount repaid in full (payment p1)"


def test_delinquency_buckets_roll_and_cure_between_closes() -> None:
    a, b, days = Events("A1"), Events("B1"), Events("D")
    store = Store()
    store.send(a.opened(), b.opened(), a.bill("a1", "100.00", "2026-08-05"), days.day_closed("2026-08-05"))
    store.send(a.overdue("a1", 20, "100.00", "2026-08-06T02:30:00"), days.day_closed("2026-08-06"))
    store.send(a.overdue("a1", 40, "100.00", "2026-08-07T02:30:00"), days.day_closed("2026-08-07"))
    store.send(a.pay("p1", "100.00", "2026-08-08T09:00:00"), days.day_closed("2026-08-08"))
    tables = store.project()

    def accounts(day: str) -> dict[str, int]:
        found = rows(tables, DELINQUENCY_DAILY, business_date=date.fromisoformat(day))
        return {row["bucket"]: row["accounts"] for row in found if row["accounts"]}

    assert accounts("2026-08-05") == {"current": 2}
    assert accounts("2026-08-06") == {"current": 1, "1-30": 1}
    assert accounts("2026-08-07") == {"current": 1, "31-60": 1}
    assert accounts("2026-08-08") == {"current": 2}
    moves = {
        (row["from_bucket"], row["to_bucket"]): (row["accounts"], row["rate"])
        for row in rows(tables, ROLL_RATES, business_date=date(2026, 8, 7))
    }
    assert moves == {("current", "current"): (1, 1.0), ("1-30", "31-60"): (1, 1.0)}
    first = rows(tables, ROLL_RATES, business_date=date(2026, 8, 5))
    assert [(r["from_bucket"], r["to_bucket"], r["accounts"], r["rate"]) for r in first] == [
        ("new", "current", 2, None)
    ]
    cured = one(tables, DELINQUENCY_DAILY, business_date=date(2026, 8, 8), bucket="31-60")
    assert cured["cured"] == 1 and cured["rolled_out"] == 1 and cured["accounts"] == 0
    balance = one(tables, DELINQUENCY_DAILY, business_date=date(2026, 8, 7), bucket="31-60")
    assert balance["overdue_balance"] == Decimal("100.00")


def test_broken_plan_counts_in_the_queue() -> None:
    a = Events("A1")
    store = Store()
    store.send(
        a.opened(),
        a.bill("b1", "900.00", "2026-08-20"),
        a.overdue("b1", 5, "900.00", "2026-08-25T10:00:00"),
        a.plan("L1", "2026-08-26T10:00:00", ("2026-09-10", "450.00"), ("2026-10-10", "450.00")),
        a.overdue("L1#1", 2, "450.00", "2026-09-12T10:00:00"),
    )
    tables = store.project()
    queued = one(tables, COLLECTION_QUEUE, account_id="A1")
    assert queued["broken_plans"] == 0  # the card was still locked: no second lock
    store.send(a.request("r1", "2026-09-12T11:00:00"), a.pay("p1", "450.00", "2026-09-13T10:00:00", plan_id="L1"))
    store.send(a.overdue("L1#2", 3, "450.00", "2026-10-13T10:00:00"))
    tables = store.project()
    queued = one(tables, COLLECTION_QUEUE, account_id="A1")
    assert queued["broken_plans"] == 1 and queued["card_locked"]
    history = [row["description"] for row in rows(tables, CREDIT_HISTORY, account_id="A1")]
    assert "Card locked again: plan installment L1#2 missed (3 days past due)" in history


def test_day_closed_facts_reach_the_account_of_their_stream() -> None:
    a, days = Events("A1"), Events("D")
    store = Store()
    store.send(a.opened(), days.day_closed("2026-08-05"))
    tables = store.project()
    assert one(tables, ACCOUNT_STATUS, account_id="A1")["last_event_type"] == "AccountOpened"
    assert [n.originator_id for n in store.notifications] == ["A1", "$clock", "A1"]


def test_each_projection_starts_from_its_own_position() -> None:
    store, a = lock_then_repay()
    everything = store.project()
    tables = MemoryTables()
    dispatcher = Dispatcher(PROJECTIONS)
    middle = len(store.notifications) // 2
    positions = dispatcher.apply(store.notifications[:middle], {}, tables)
    # A rebuilt credit history starts again from zero beside the others.
    tables.rows.pop("credit_history")
    positions["credit_history"] = 0
    positions = dispatcher.apply(store.notifications, positions, tables)
    assert set(positions.values()) == {len(store.notifications)}
    assert tables.rows == everything.rows


def test_read_model_docs_match_the_tables() -> None:
    assert DOCS.read_text() == render_docs(), "docs/read-models.md is stale: run `python -m projections.docs`"
