"""account_index: which account each event stream belongs to.

A `DayClosed` fact brought to an account and a decision without a command
carry no account id; the stream's first event does. Other projections look
the account up here, so the runner applies this one first.
"""

from __future__ import annotations

from projections.base import AccountStarted, Column, Projection, Recorded, Table, Tables
from projections.base import ColumnType as T

ACCOUNT_INDEX = Table(
    "account_index",
    "Maps each account's event stream (originator id) to its account id.",
    (
        Column("originator_id", T.TEXT, "the stream's UUID in hex, as the event store keeps it"),
        Column("account_id", T.TEXT, "the account the stream belongs to"),
    ),
    key=("originator_id",),
    internal=True,
)


class AccountIndex(Projection):
    name = "account_index"
    version = 1
    tables = (ACCOUNT_INDEX,)
    doc = "Stream-to-account map the other projections resolve accounts with."

    def apply(self, event: Recorded, tables: Tables) -> None:
        if isinstance(event, AccountStarted):
            tables.put(ACCOUNT_INDEX, {"originator_id": event.originator_id, "account_id": event.account_id})


def account_of(tables: Tables, originator_id: str) -> str | None:
    row = tables.get(ACCOUNT_INDEX, (originator_id,))
    return None if row is None else str(row["account_id"])
