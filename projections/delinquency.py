"""delinquency_daily and roll_rates: the portfolio by delinquency bucket per business date.

Working tables keep each account's current bucket and running totals per
bucket, updated fact by fact; the accounts whose bucket moved since the last
close are noted. When billing closes a business date the totals are copied
into `delinquency_daily` and the moves become the roll-rate matrix from the
previous date, so a close costs the accounts that moved, not the portfolio.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from events.recorded import DELINQUENCY_BUCKETS, delinquency_bucket
from projections.base import (
    Column,
    DayRecorded,
    FactRecorded,
    Projection,
    Recorded,
    Row,
    Table,
    Tables,
    money,
)
from projections.base import ColumnType as T

NEW = "new"  # the "from" bucket of accounts opened since the previous date

DELINQUENCY_DAILY = Table(
    "delinquency_daily",
    "Per closed business date and delinquency bucket: accounts, balances, flows and cures.",
    (
        Column("business_date", T.DATE, "the business date billing closed (DayClosed)"),
        Column("bucket", T.TEXT, "current, 1-30, 31-60, 61-90, 91-180 or 180+ days past due"),
        Column("accounts", T.INTEGER, "accounts in the bucket at the close"),
        Column("overdue_balance", T.MONEY, "their overdue outstanding, summed"),
        Column("outstanding_balance", T.MONEY, "their total outstanding, summed"),
        Column(
            "rolled_in", T.INTEGER, "accounts in the bucket now that were elsewhere (or not open) at the previous close"
        ),
        Column("rolled_out", T.INTEGER, "accounts in the bucket at the previous close that are elsewhere now"),
        Column("cured", T.INTEGER, "of those rolled out, the ones now current (always 0 for the current bucket)"),
    ),
    key=("business_date", "bucket"),
)

ROLL_RATES = Table(
    "roll_rates",
    "Roll-rate matrix: accounts moving from each bucket at the previous close to each bucket at this one.",
    (
        Column("business_date", T.DATE, "the business date closed"),
        Column("from_bucket", T.TEXT, "bucket at the previous close, or 'new' for accounts opened since"),
        Column("to_bucket", T.TEXT, "bucket at this close"),
        Column("previous_date", T.DATE, "the previous closed business date (none for the first)", nullable=True),
        Column("accounts", T.INTEGER, "accounts that made this move (the diagonal: stayed)"),
        Column("from_accounts", T.INTEGER, "accounts in from_bucket at the previous close (new: opened since)"),
        Column("rate", T.RATIO, "accounts / from_accounts; none for 'new'", nullable=True),
    ),
    key=("business_date", "from_bucket", "to_bucket"),
)

ACCOUNTS = Table(
    "delinquency_accounts",
    "Working state: each account's current bucket and balances.",
    (
        Column("account_id", T.TEXT, "the account"),
        Column("bucket", T.TEXT, "its bucket now"),
        Column("overdue_balance", T.MONEY, "its overdue outstanding now"),
        Column("outstanding_balance", T.MONEY, "its outstanding now"),
    ),
    key=("account_id",),
    internal=True,
)

MOVES = Table(
    "delinquency_moves",
    "Working state: accounts whose bucket changed since the last close, with the bucket they had then.",
    (
        Column("account_id", T.TEXT, "the account"),
        Column("from_bucket", T.TEXT, "its bucket at the last close, or 'new'"),
    ),
    key=("account_id",),
    internal=True,
)

TOTALS = Table(
    "delinquency_totals",
    "Working state: running totals per bucket.",
    (
        Column("bucket", T.TEXT, "the bucket"),
        Column("accounts", T.INTEGER, "accounts in it now"),
        Column("overdue_balance", T.MONEY, "their overdue outstanding"),
        Column("outstanding_balance", T.MONEY, "their outstanding"),
    ),
    key=("bucket",),
    internal=True,
)

CLOCK = Table(
    "delinquency_clock",
    "Working state: the last business date closed.",
    (
        Column("id", T.INTEGER, "always 1"),
        Column("business_date", T.DATE, "last closed business date"),
    ),
    key=("id",),
    internal=True,
)

_ZERO = money("0")


class Delinquency(Projection):
    name = "delinquency"
    version = 1
    tables = (DELINQUENCY_DAILY, ROLL_RATES, ACCOUNTS, MOVES, TOTALS, CLOCK)
    doc = "Daily delinquency buckets, roll rates and cures."
    weight = 11
    reads = frozenset({FactRecorded, DayRecorded})

    def apply(self, event: Recorded, tables: Tables) -> None:
        if isinstance(event, FactRecorded):
            self._fact(event, tables)
        elif isinstance(event, DayRecorded):
            self._close(event, tables)

    def _fact(self, event: FactRecorded, tables: Tables) -> None:
        balances = event.balances
        new: Row = {
            "account_id": event.account_id,
            "bucket": delinquency_bucket(balances.days_past_due),
            "overdue_balance": money(balances.overdue_outstanding),
            "outstanding_balance": money(balances.outstanding),
        }
        old = tables.get(ACCOUNTS, (event.account_id,))
        if old == new:
            return
        if old is None:
            tables.put(MOVES, {"account_id": event.account_id, "from_bucket": NEW})
        else:
            _add(tables, old, -1)
            if old["bucket"] != new["bucket"] and tables.get(MOVES, (event.account_id,)) is None:
                tables.put(MOVES, {"account_id": event.account_id, "from_bucket": old["bucket"]})
        _add(tables, new, +1)
        tables.put(ACCOUNTS, new)

    def _close(self, event: DayRecorded, tables: Tables) -> None:
        clock = tables.get(CLOCK, (1,))
        previous = None if clock is None else clock["business_date"]
        before: dict[str, int] = {}
        for bucket in DELINQUENCY_BUCKETS:
            row = tables.get(DELINQUENCY_DAILY, (previous, bucket)) if previous else None
            before[bucket] = 0 if row is None else int(row["accounts"])
        flows: Counter[tuple[str, str]] = Counter()
        for move in tables.scan(MOVES):
            now = tables.get(ACCOUNTS, (move["account_id"],))
            assert now is not None
            if move["from_bucket"] != now["bucket"]:
                flows[(move["from_bucket"], now["bucket"])] += 1
            tables.delete(MOVES, (move["account_id"],))
        rolled_out = Counter(source for source, _ in flows.elements())
        rolled_in = Counter(target for _, target in flows.elements())
        cured = Counter(source for source, target in flows.elements() if target == "current")
        day = event.business_date
        for bucket in DELINQUENCY_BUCKETS:
            totals = tables.get(TOTALS, (bucket,)) or _empty_totals(bucket)
            tables.put(
                DELINQUENCY_DAILY,
                {
                    "business_date": day,
                    "bucket": bucket,
                    "accounts": totals["accounts"],
                    "overdue_balance": totals["overdue_balance"],
                    "outstanding_balance": totals["outstanding_balance"],
                    "rolled_in": rolled_in[bucket],
                    "rolled_out": rolled_out[bucket],
                    "cured": cured[bucket],
                },
            )
            stayed = before[bucket] - rolled_out[bucket]
            if stayed:
                flows[(bucket, bucket)] = stayed
        opened = sum(count for (source, _), count in flows.items() if source == NEW)
        for (source, target), count in sorted(flows.items()):
            base = opened if source == NEW else before[source]
            tables.put(
                ROLL_RATES,
                {
                    "business_date": day,
                    "from_bucket": source,
                    "to_bucket": target,
                    "previous_date": previous,
                    "accounts": count,
                    "from_accounts": base,
                    "rate": None if source == NEW or base == 0 else count / base,
                },
            )
        tables.put(CLOCK, {"id": 1, "business_date": day})


def _empty_totals(bucket: str) -> Row:
    return {"bucket": bucket, "accounts": 0, "overdue_balance": _ZERO, "outstanding_balance": _ZERO}


def _add(tables: Tables, account: Row, sign: int) -> None:
    totals = tables.get(TOTALS, (account["bucket"],)) or _empty_totals(account["bucket"])
    totals["accounts"] += sign
    totals["overdue_balance"] = money(totals["overdue_balance"] + sign * Decimal(account["overdue_balance"]))
    totals["outstanding_balance"] = money(
        totals["outstanding_balance"] + sign * Decimal(account["outstanding_balance"])
    )
    tables.put(TOTALS, totals)
