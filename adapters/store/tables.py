"""Read-model tables in the store's own database: SQLite or PostgreSQL.

Tables are named `rm_<name>` in both databases (in the store's schema on
PostgreSQL), so an analyst's SQL reads the same on either. Logical column
types map to native ones where the database has them (numeric, timestamptz,
date, boolean, jsonb on PostgreSQL); SQLite keeps money as exact decimal
text, times as UTC text of fixed width (so they sort), booleans as 0/1.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse, urlunparse

import orjson
import psycopg
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from adapters.store.sqlite.events import is_postgres, sqlite_path
from projections.base import CENT, Column, ColumnType, Key, Row, Table

PREFIX = "rm_"
POSITIONS = f"{PREFIX}positions"

_SQLITE_TYPES = {
    ColumnType.TEXT: "TEXT",
    ColumnType.INTEGER: "INTEGER",
    ColumnType.BOOLEAN: "INTEGER",
    ColumnType.MONEY: "TEXT",
    ColumnType.TIMESTAMP: "TEXT",
    ColumnType.DATE: "TEXT",
    ColumnType.JSON: "TEXT",
    ColumnType.RATIO: "REAL",
}
_POSTGRES_TYPES = {
    ColumnType.TEXT: "text",
    ColumnType.INTEGER: "bigint",
    ColumnType.BOOLEAN: "boolean",
    ColumnType.MONEY: "numeric(20,2)",
    ColumnType.TIMESTAMP: "timestamptz",
    ColumnType.DATE: "date",
    ColumnType.JSON: "jsonb",
    ColumnType.RATIO: "double precision",
}


def table_name(table: Table | str) -> str:
    return PREFIX + (table if isinstance(table, str) else table.name)


def sqlite_timestamp(moment: datetime) -> str:
    """Fixed-width UTC text (microseconds always written), so that text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def postgres_conninfo(url: str) -> tuple[str, str | None]:
    """A libpq URL without fengkong's own query options, and the schema they name."""
    parts = urlparse(url)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return urlunparse(parts._replace(query="")), options.get("schema")


class Database:
    """One connection to the store's database, with the dialect's SQL and value codecs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = is_postgres(url)
        self._encoders: dict[str, Callable[[Row], Sequence[Any]]] = {}
        self.sqlite: sqlite3.Connection | None = None
        self.pg: psycopg.Connection[tuple[Any, ...]] | None = None
        if self.postgres:
            conninfo, schema = postgres_conninfo(url)
            self.pg = psycopg.connect(conninfo, autocommit=True)
            self.pg.execute("SET TIME ZONE 'UTC'")
            if schema:
                self.pg.execute(pgsql.SQL("SET search_path TO {0}").format(pgsql.Identifier(schema)))
        else:
            path = sqlite_path(url)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
            self.sqlite.execute("PRAGMA journal_mode=WAL")
            self.sqlite.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against process crashes
            self.sqlite.execute("PRAGMA busy_timeout=60000")

    @property
    def dialect(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()
        if self.sqlite is not None:
            self.sqlite.close()

    # ------------------------------------------------------------ statements

    def sql(self, statement: str) -> str:
        """Statements are written with `?` placeholders; PostgreSQL wants `%s`."""
        return statement.replace("?", "%s") if self.postgres else statement

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.pg is not None:
            with self.pg.cursor() as cursor:
                cursor.execute(self.sql(statement), list(params))
                return cursor.fetchall() if cursor.description else []
        assert self.sqlite is not None
        return self.sqlite.execute(statement, list(params)).fetchall()

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        if self.pg is not None:
            with self.pg.cursor() as cursor:
                cursor.execute(self.sql(statement), list(params))
                return cursor.rowcount
        assert self.sqlite is not None
        return self.sqlite.execute(statement, list(params)).rowcount

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.pg is not None:
            with self.pg.cursor() as cursor:
                cursor.executemany(self.sql(statement), rows)
            return
        assert self.sqlite is not None
        self.sqlite.executemany(statement, rows)

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction: SQLite takes its write lock up front (BEGIN IMMEDIATE)."""
        if self.pg is not None:
            with self.pg.transaction():
                yield
            return
        assert self.sqlite is not None
        self.sqlite.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.sqlite.execute("ROLLBACK")
            raise
        self.sqlite.execute("COMMIT")

    def lock_clause(self) -> str:
        """Row locks for reads inside a write transaction (SQLite's lock is already whole-database)."""
        return " FOR UPDATE" if self.postgres else ""

    # ------------------------------------------------------------ schema

    def column_sql(self, column: Column) -> str:
        types = _POSTGRES_TYPES if self.postgres else _SQLITE_TYPES
        null = "" if column.nullable else " NOT NULL"
        return f"{column.name} {types[column.type]}{null}"

    def create_statements(self, table: Table) -> list[str]:
        name = table_name(table)
        columns = ", ".join(self.column_sql(column) for column in table.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {name} ({columns}, PRIMARY KEY ({', '.join(table.key)}))"]
        for index in table.indexes:
            statements.append(f"CREATE INDEX IF NOT EXISTS {name}_{'_'.join(index)} ON {name} ({', '.join(index)})")
        return statements

    def drop_statement(self, table: Table) -> str:
        return f"DROP TABLE IF EXISTS {table_name(table)}"

    def has_table(self, name: str) -> bool:
        if self.postgres:
            return bool(self.query("SELECT to_regclass(?) IS NOT NULL", [name])[0][0])
        return bool(self.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [name])[0][0])

    # ------------------------------------------------------------ values

    def encode(self, column: Column, value: Any) -> Any:
        if value is None:
            return None
        kind = column.type
        if kind is ColumnType.MONEY:
            amount = Decimal(value).quantize(CENT)
            return amount if self.postgres else str(amount)
        if kind is ColumnType.JSON:
            return Jsonb(value) if self.postgres else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        if self.postgres:
            return value
        if kind is ColumnType.BOOLEAN:
            return int(bool(value))
        if kind is ColumnType.TIMESTAMP:
            return sqlite_timestamp(value)
        if kind is ColumnType.DATE:
            return value.isoformat()
        return value

    def decode(self, column: Column, value: Any) -> Any:
        if value is None:
            return None
        kind = column.type
        if kind is ColumnType.MONEY:
            return Decimal(value).quantize(CENT)
        if kind is ColumnType.BOOLEAN:
            return bool(value)
        if kind is ColumnType.TIMESTAMP:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return moment.astimezone(UTC)
        if kind is ColumnType.DATE:
            return value if isinstance(value, date) else date.fromisoformat(value)
        if kind is ColumnType.JSON:
            return value if not isinstance(value, (str, bytes)) else orjson.loads(value)
        if kind is ColumnType.RATIO:
            return float(value)
        return value

    def encode_row(self, table: Table, row: Row) -> Sequence[Any]:
        """A row's values in column order, as the database takes them."""
        encode = self._encoders.get(table.name)
        if encode is None:
            encode = self._encoders[table.name] = self._row_encoder(table)
        return encode(row)

    def _row_encoder(self, table: Table) -> Callable[[Row], Sequence[Any]]:
        """Values picked in C (itemgetter); only the columns whose values need it are converted."""
        names = table.column_names
        pick = operator.itemgetter(*names)
        converters = [(i, convert) for i, c in enumerate(table.columns) if (convert := self._encoder(c)) is not None]
        if len(names) == 1:
            only = converters[0][1] if converters else None
            return lambda row: (pick(row) if only is None else only(pick(row)),)
        if not converters:
            return pick

        def encode(row: Row) -> list[Any]:
            values = list(pick(row))
            for i, convert in converters:
                values[i] = convert(values[i])
            return values

        return encode

    def _encoder(self, column: Column) -> Callable[[Any], Any] | None:
        """A fast encoder for one column (None: the value goes as it is), for bulk writes."""
        kind = column.type
        if kind in (ColumnType.TEXT, ColumnType.INTEGER, ColumnType.RATIO) or (
            self.postgres and kind in (ColumnType.BOOLEAN, ColumnType.TIMESTAMP, ColumnType.DATE)
        ):
            return None
        if not self.postgres and kind is ColumnType.MONEY:
            return lambda value: None if value is None else str(value.quantize(CENT))
        if not self.postgres and kind is ColumnType.BOOLEAN:
            return lambda value: None if value is None else int(value)
        if not self.postgres and kind is ColumnType.TIMESTAMP:
            return lambda value: None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")
        return lambda value: None if value is None else self.encode(column, value)

    def decode_row(self, table: Table, values: Sequence[Any], columns: Sequence[Column] | None = None) -> Row:
        return {
            column.name: self.decode(column, value)
            for column, value in zip(columns or table.columns, values, strict=True)
        }

    def encode_key(self, table: Table, key: Key) -> list[Any]:
        return [self.encode(table.column(name), value) for name, value in zip(table.key, key, strict=True)]

    # ------------------------------------------------------------ row statements

    def select_by_key(self, table: Table) -> str:
        where = " AND ".join(f"{name} = ?" for name in table.key)
        return f"SELECT {', '.join(table.column_names)} FROM {table_name(table)} WHERE {where}"

    def upsert(self, table: Table) -> str:
        names = table.column_names
        updates = ", ".join(f"{name} = excluded.{name}" for name in names if name not in table.key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {table_name(table)} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT ({', '.join(table.key)}) {action}"
        )

    def delete_by_key(self, table: Table) -> str:
        return f"DELETE FROM {table_name(table)} WHERE " + " AND ".join(f"{name} = ?" for name in table.key)

    def select_all(self, table: Table, order: Sequence[str] | None = None) -> str:
        return (
            f"SELECT {', '.join(table.column_names)} FROM {table_name(table)} ORDER BY {', '.join(order or table.key)}"
        )
