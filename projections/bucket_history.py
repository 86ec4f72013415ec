"""bucket_history: each account's delinquency bucket at every close, kept as changes.

Roll rates over an interval (month on month, the way credit risk reports
them) and vintage curves need each account's bucket at two or more past
closes, which the daily totals do not keep. A row per account per close
would grow with the portfolio times the days; a row only when an account's
bucket at a close differs from its bucket at its previous recorded close
grows with the moves. An account's bucket at a close D is that of its last
row dated on or before D (none: not open yet). Buckets are taken exactly
as the `delinquency` projection takes them, so the counts agree with
`delinquency_daily` at every close.
"""

from __future__ import annotations

from events.recorded import delinquency_bucket
from projections.base import Column, DayRecorded, FactRecorded, Projection, Recorded, Table, Tables
from projections.base import ColumnType as T

NEW = "new"

BUCKET_CHANGES = Table(
    "bucket_changes",
    "Each account's bucket at a close where it differs from its bucket at its previous recorded close.",
    (
        Column("account_id", T.TEXT, "the account"),
        Column("business_date", T.DATE, "the business date closed"),
        Column("bucket", T.TEXT, "its bucket at this close (it holds until the account's next row)"),
        Column("from_bucket", T.TEXT, "its bucket at its previous recorded close, or 'new' for its first"),
    ),
    key=("account_id", "business_date"),
    indexes=(("business_date",),),
)

CURRENT = Table(
    "bucket_history_accounts",
    "Working state: each account's bucket now and at its last recorded close.",
    (
        Column("account_id", T.TEXT, "the account"),
        Column("bucket", T.TEXT, "its bucket now"),
        Column("closed_bucket", T.TEXT, "its bucket at its last recorded close (none before its first)", True),
    ),
    key=("account_id",),
    internal=True,
)

PENDING = Table(
    "bucket_history_pending",
    "Working state: accounts whose bucket changed since the last close.",
    (Column("account_id", T.TEXT, "the account"),),
    key=("account_id",),
    internal=True,
)


class BucketHistory(Projection):
    name = "bucket_history"
    version = 1
    reads = frozenset({FactRecorded, DayRecorded})
    weight = 6  # measured beside delinquency (11): about half its CPU per event; it reads only the balances
    tables = (BUCKET_CHANGES, CURRENT, PENDING)
    doc = "Each account's delinquency bucket at every close, kept as changes (interval roll rates, vintages)."

    def apply(self, event: Recorded, tables: Tables) -> None:
        if isinstance(event, FactRecorded):
            bucket = delinquency_bucket(event.balances.days_past_due)
            old = tables.get(CURRENT, (event.account_id,))
            if old is not None and old["bucket"] == bucket:
                return
            closed = None if old is None else old["closed_bucket"]
            tables.put(CURRENT, {"account_id": event.account_id, "bucket": bucket, "closed_bucket": closed})
            tables.put(PENDING, {"account_id": event.account_id})
        elif isinstance(event, DayRecorded):
            for pending in tables.scan(PENDING):
                key = (pending["account_id"],)
                tables.delete(PENDING, key)
                now = tables.get(CURRENT, key)
                assert now is not None
                if now["bucket"] == now["closed_bucket"]:
                    continue
                tables.put(
                    BUCKET_CHANGES,
                    {
                        "account_id": now["account_id"],
                        "business_date": event.business_date,
                        "bucket": now["bucket"],
                        "from_bucket": now["closed_bucket"] or NEW,
                    },
                )
                tables.put(CURRENT, {**now, "closed_bucket": now["bucket"]})
