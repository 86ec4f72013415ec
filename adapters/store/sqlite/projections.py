"""The projections' tables on SQLite: money as exact decimal text, times as fixed-width UTC text, booleans 0/1."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from adapters.store.sqlite.file import create_store_file, write_ahead_log
from adapters.store.tables import Encoder, ProjectionDatabase
from adapters.store.urls import sqlite_path
from projections.base import CENT, Column, ColumnType

BULK_CACHE_KIB = 256 * 1024  # per rebuild process, only while it rebuilds (its connection closes after)
BULK_BUSY_MS = 900_000


def sqlite_timestamp(moment: datetime) -> str:
    """Fixed-width UTC text (microseconds always written), so that text order is time order."""
    if moment.tzinfo is not UTC:  # projections hand over UTC already (projections.base.utc)
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def _money(value: Any) -> str:
    return str((value if type(value) is Decimal else Decimal(value)).quantize(CENT))


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_ENCODERS: dict[ColumnType, Encoder] = {
    ColumnType.MONEY: _money,
    ColumnType.JSON: _json,
    ColumnType.BOOLEAN: int,
    ColumnType.TIMESTAMP: sqlite_timestamp,
    ColumnType.DATE: lambda value: value.isoformat(),
}


class SQLiteProjectionDatabase(ProjectionDatabase):
    dialect = "sqlite"
    types: ClassVar[dict[ColumnType, str]] = {
        ColumnType.TEXT: "TEXT",
        ColumnType.INTEGER: "INTEGER",
        ColumnType.BOOLEAN: "INTEGER",
        ColumnType.MONEY: "TEXT",
        ColumnType.TIMESTAMP: "TEXT",
        ColumnType.DATE: "TEXT",
        ColumnType.JSON: "TEXT",
        ColumnType.RATIO: "REAL",
    }

    def __init__(self, url: str) -> None:
        super().__init__()
        path = sqlite_path(url)
        create_store_file(path)
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        write_ahead_log(self.connection)  # a store made before create_store_file existed may not be in WAL mode
        self.connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against process crashes
        self.connection.execute("PRAGMA busy_timeout=60000")

    def close(self) -> None:
        self.connection.close()

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(statement, list(params)).fetchall()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        return self.connection.execute(statement, list(params)).rowcount

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.connection.executemany(statement, rows)

    @contextmanager
    def write(self) -> Iterator[None]:
        """BEGIN IMMEDIATE: the write lock from the start, so the positions read inside stay ours."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def bulk_load(self) -> None:
        """A page cache that holds the tables being loaded and sorts for their indexes in memory: without it a
        rebuild's upserts and index builds go back to the file (2 MiB by default) for every few rows."""
        self.connection.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        self.connection.execute("PRAGMA temp_store=MEMORY")
        # The other processes of a parallel rebuild write large transactions too (a projection's rows with its
        # position, atomically): on a busy machine one may hold the write lock longer than a live writer would.
        self.connection.execute(f"PRAGMA busy_timeout={BULK_BUSY_MS}")

    def has_table(self, name: str) -> bool:
        found = self.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
        return bool(found[0][0])

    def money_sort_term(self, name: str) -> str:
        return f"CAST({name} AS REAL)"

    def encoder(self, column: Column) -> Encoder | None:
        return _ENCODERS.get(column.type)
