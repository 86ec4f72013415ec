"""The mark `fengkong demo` leaves in a store: the accounts it created.

`fengkong demo` replaces or adds to a store only if everything in it is its
own: a store without this table, or with accounts not listed in it, holds
someone's real accounts (docs/reliability.md, "Operators' mistakes").
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.store.tables import ProjectionDatabase

DEMO_TABLE = "fengkong_demo"


def mark_demo(db: ProjectionDatabase, account_ids: Iterable[str]) -> None:
    """Record that the demo creates these accounts (before it writes them: an interrupted demo is still a demo)."""
    with db.write():
        db.execute(f"CREATE TABLE IF NOT EXISTS {DEMO_TABLE} (account_id TEXT PRIMARY KEY)")
        db.executemany(
            f"INSERT INTO {DEMO_TABLE} (account_id) VALUES (?) ON CONFLICT (account_id) DO NOTHING",
            [(account_id,) for account_id in account_ids],
        )


def demo_accounts(db: ProjectionDatabase) -> set[str] | None:
    """The accounts demo created in this store; None if demo never wrote into it."""
    if not db.has_table(DEMO_TABLE):
        return None
    return {str(row[0]) for row in db.query(f"SELECT account_id FROM {DEMO_TABLE}")}
