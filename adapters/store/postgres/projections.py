"""The projections' tables on PostgreSQL: native numeric, timestamptz, date, boolean and jsonb columns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, ClassVar

import psycopg
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

from adapters.store.tables import Encoder, ProjectionDatabase
from adapters.store.urls import postgres_conninfo, postgres_options
from projections.base import CENT, Column, ColumnType

_DDL_LOCK = 7466213  # advisory lock key: two processes creating tables at once would collide in the catalog


def _money(value: Any) -> Decimal:
    return Decimal(value).quantize(CENT)


_ENCODERS: dict[ColumnType, Encoder] = {ColumnType.MONEY: _money, ColumnType.JSON: Jsonb}


class PostgresProjectionDatabase(ProjectionDatabase):
    dialect = "postgresql"
    types: ClassVar[dict[ColumnType, str]] = {
        ColumnType.TEXT: "text",
        ColumnType.INTEGER: "bigint",
        ColumnType.BOOLEAN: "boolean",
        ColumnType.MONEY: "numeric(20,2)",
        ColumnType.TIMESTAMP: "timestamptz",
        ColumnType.DATE: "date",
        ColumnType.JSON: "jsonb",
        ColumnType.RATIO: "double precision",
    }

    def __init__(self, url: str) -> None:
        super().__init__()
        self.connection: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(postgres_conninfo(url), autocommit=True)
        self.connection.execute("SET TIME ZONE 'UTC'")
        schema = postgres_options(url).get("schema")
        if schema:
            self.connection.execute(pgsql.SQL("SET search_path TO {0}").format(pgsql.Identifier(schema)))

    def close(self) -> None:
        self.connection.close()

    @staticmethod
    def sql(statement: str) -> str:
        """Statements are written with `?` placeholders; psycopg wants `%s`."""
        return statement.replace("?", "%s")

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql(statement), list(params))
            return cursor.fetchall() if cursor.description else []

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql(statement), list(params))
            return cursor.rowcount

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.connection.cursor() as cursor:
                cursor.executemany(self.sql(statement), rows)

    @contextmanager
    def write(self) -> Iterator[None]:
        with self.connection.transaction():
            yield

    def has_table(self, name: str) -> bool:
        return bool(self.query("SELECT to_regclass(?) IS NOT NULL", [name])[0][0])

    def serialize_ddl(self) -> None:
        self.query("SELECT pg_advisory_xact_lock(?)", [_DDL_LOCK])

    def lock_clause(self) -> str:
        return " FOR UPDATE"

    def encoder(self, column: Column) -> Encoder | None:
        return _ENCODERS.get(column.type)
