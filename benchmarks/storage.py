"""Bytes the store keeps per inbound event, measured on a compacted copy.

The event store is what audit needs and what grows with every event: the
stored events (eventsourcing's `stored_events` with its stream index) and the
engine's own tables (`fengkong_*`: the deduplication index, the agenda, the
source positions), each with its indexes. The read models (`rm_*`) can be
rebuilt from it at any time and are reported apart; dead letters never reach
the database (files or the dead-letter topic).

SQLite is measured on a `VACUUM INTO` copy (no free pages, no WAL) with the
`dbstat` table, page by page; PostgreSQL after `VACUUM FULL` of each table,
with `pg_total_relation_size` (heap, indexes and TOAST). The engine rows'
stores are only read here, never changed (PostgreSQL's `VACUUM FULL` rewrites
the tables in place, which changes no row).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

EVENT_STORE_PREFIXES = ("stored_events", "fengkong_")
READ_MODEL_PREFIX = "rm_"


def _part(table: str) -> str:
    if table.startswith(EVENT_STORE_PREFIXES):
        return "event_store"
    if table.startswith(READ_MODEL_PREFIX):
        return "read_models"
    return "other"  # the keys table, SQLite's schema page


def sqlite_sizes(store: Path, folder: Path) -> dict[str, dict[str, int]]:
    """part -> table -> bytes (the table, its indexes and overflow pages) of a compacted copy of `store`."""
    copy = folder / f"{store.stem}.vacuumed.db"
    copy.unlink(missing_ok=True)
    with sqlite3.connect(store) as source:
        source.execute("VACUUM INTO ?", (str(copy),))
    source.close()
    try:
        db = sqlite3.connect(copy)
        owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        sizes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[_part(table)][table] += int(size)
        db.close()
    finally:
        copy.unlink(missing_ok=True)
    return {part: dict(tables) for part, tables in sizes.items()}


def postgres_sizes(url: str) -> dict[str, dict[str, int]]:
    """part -> table -> bytes (heap, indexes, TOAST) of every table of the store's schema, after VACUUM FULL."""
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            )
        ]
        for table in tables:
            conn.execute(sql.SQL("VACUUM FULL {}").format(sql.Identifier(table)))
            size = conn.execute("SELECT pg_total_relation_size(quote_ident(%s))", (table,)).fetchone()
            sizes[_part(table)][table] = int(size[0]) if size else 0
    return dict(sizes)


def per_event(sizes: dict[str, dict[str, int]], inbound_events: int, input_bytes: int) -> dict[str, Any]:
    """The figures of a storage row: bytes per inbound event and the event store's size against its input."""
    store = sizes.get("event_store", {})
    total = sum(store.values())
    read_models = sum(sizes.get("read_models", {}).values())
    return {
        "inbound_events": inbound_events,
        "input_bytes": input_bytes,
        "event_store_bytes": total,
        "bytes_per_event": round(total / inbound_events, 1) if inbound_events else None,
        "ratio_to_input": round(total / input_bytes, 2) if input_bytes else None,
        "parts_per_event": {
            table: round(size / inbound_events, 1) for table, size in sorted(store.items(), key=lambda kv: -kv[1])
        }
        if inbound_events
        else {},
        "read_models_bytes": read_models,
        "read_models_per_event": round(read_models / inbound_events, 1) if inbound_events else None,
    }
