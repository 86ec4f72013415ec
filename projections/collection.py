"""collection_queue: the overdue accounts a collector works through, most urgent first.

Priority is days past due, then the overdue amount, then how many times a
repayment plan was broken; each row shows the last notice sent to the
customer and when it was delivered, the last outcome the messaging gateway
reported (contract 1.1) and an open promise to pay. A working table keeps
every account's figures so an account re-enters the queue with its history.
"""

from __future__ import annotations

from datetime import date, datetime

from events.inbound import NoticeOutcomeReported
from events.recorded import delinquency_bucket
from events.rules import Rule
from projections.base import (
    Column,
    DecisionRecorded,
    FactRecorded,
    Projection,
    Recorded,
    Row,
    Table,
    Tables,
    money,
    utc,
)
from projections.base import ColumnType as T

_COLUMNS = (
    Column("account_id", T.TEXT, "the account"),
    Column("days_past_due", T.INTEGER, "largest days past due among its overdue bills"),
    Column("delinquency_bucket", T.TEXT, "bucket of days_past_due"),
    Column("overdue_outstanding", T.MONEY, "unpaid balance of its overdue bills and installments"),
    Column("overdue_bills", T.INTEGER, "number of overdue bills and installments"),
    Column("broken_plans", T.INTEGER, "times the card was locked again for a missed plan installment"),
    Column("card_locked", T.BOOLEAN, "the card is locked"),
    Column("active_plan_id", T.TEXT, "the repayment plan in force, if any", nullable=True),
    Column("overdue_since", T.TIMESTAMP, "event time the account last became overdue (UTC)", nullable=True),
    Column("notices_sent", T.INTEGER, "customer notices sent so far (SMS, push; not operations escalations)"),
    Column("last_notice_template", T.TEXT, "template of the last customer notice, e.g. overdue_d7", nullable=True),
    Column("last_notice_channel", T.TEXT, "its channel, e.g. sms", nullable=True),
    Column("last_notice_at", T.TIMESTAMP, "its delivery time (after quiet hours), UTC", nullable=True),
    Column("last_event_at", T.TIMESTAMP, "event time of the account's last billing fact (UTC)", nullable=True),
    Column("last_outcome", T.TEXT, "the last notice outcome reported: delivered, failed, read, …", nullable=True),
    Column("last_outcome_at", T.TIMESTAMP, "its event time (UTC)", nullable=True),
    Column("promise_amount", T.MONEY, "the open promise to pay: its amount", nullable=True),
    Column("promise_date", T.DATE, "… and the date promised (notices wait until then)", nullable=True),
)

COLLECTION_QUEUE = Table(
    "collection_queue",
    "Accounts with an overdue balance, to be worked in order of days past due, amount and broken plans.",
    _COLUMNS,
    key=("account_id",),
    indexes=(("days_past_due",),),
)

COLLECTION_ACCOUNTS = Table(
    "collection_accounts",
    "Working state: the queue's figures for every account, overdue or not.",
    _COLUMNS,
    key=("account_id",),
    internal=True,
)

QUEUE_ORDER = (
    ("days_past_due", "desc"),
    ("overdue_outstanding", "desc"),
    ("broken_plans", "desc"),
    ("account_id", "asc"),
)
"""The queue's priority order, for queries."""


def _new_row(account_id: str) -> Row:
    row: Row = {column.name: None for column in _COLUMNS}
    row.update(
        account_id=account_id,
        days_past_due=0,
        delinquency_bucket="current",
        overdue_outstanding=money("0"),
        overdue_bills=0,
        broken_plans=0,
        card_locked=False,
        notices_sent=0,
    )
    return row


class Collection(Projection):
    name = "collection"
    version = 2  # 2: last outcome, open promise
    tables = (COLLECTION_QUEUE, COLLECTION_ACCOUNTS)
    doc = "Collection queue of overdue accounts with their last notice."
    weight = 13
    reads = frozenset({FactRecorded, DecisionRecorded})

    def apply(self, event: Recorded, tables: Tables) -> None:
        if isinstance(event, FactRecorded):
            row = tables.get(COLLECTION_ACCOUNTS, (event.account_id,)) or _new_row(event.account_id)
            balances = event.balances
            overdue = money(balances.overdue_outstanding)
            if overdue > 0 and row["overdue_outstanding"] == 0:
                row["overdue_since"] = utc(event.occurred_at)
            elif overdue == 0:
                row["overdue_since"] = None
            row["overdue_outstanding"] = overdue
            row["days_past_due"] = balances.days_past_due
            row["delinquency_bucket"] = delinquency_bucket(balances.days_past_due)
            row["overdue_bills"] = balances.overdue_bills
            row["active_plan_id"] = balances.active_plan_id
            kind = event.fact_type
            if kind == "NoticeOutcomeReported":
                fact = event.fact
                assert isinstance(fact, NoticeOutcomeReported)
                row["last_outcome"], row["last_outcome_at"] = fact.data.outcome, utc(fact.occurred_at)
            elif kind != "DayClosed":
                row["last_event_at"] = utc(event.occurred_at)
        elif isinstance(event, DecisionRecorded):
            found = tables.get(COLLECTION_ACCOUNTS, (event.account_id,))
            if found is None:
                return
            row = found
            decision, command = event.decision, event.decision.command or {}
            changes = decision.changes
            if "card_locked" in changes:
                row["card_locked"] = bool(changes["card_locked"])
            if "promise_date" in changes:
                amount, day = changes.get("promise_amount"), changes["promise_date"]
                row["promise_amount"] = None if amount is None else money(amount)
                row["promise_date"] = None if day is None else date.fromisoformat(day)
            if decision.rule == Rule.LOCK_BROKEN_PLAN and command.get("type") == "LockCard":
                row["broken_plans"] += 1
            if command.get("type") == "SendNotice" and command.get("channel") != "ops":
                row["notices_sent"] += 1
                row["last_notice_template"] = command.get("template")
                row["last_notice_channel"] = command.get("channel")
                row["last_notice_at"] = utc(datetime.fromisoformat(str(command["deliver_at"])))
        else:
            return
        tables.put(COLLECTION_ACCOUNTS, row)
        if row["overdue_outstanding"] > 0:
            tables.put(COLLECTION_QUEUE, dict(row))
        elif tables.get(COLLECTION_QUEUE, (row["account_id"],)) is not None:
            tables.delete(COLLECTION_QUEUE, (row["account_id"],))
