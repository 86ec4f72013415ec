"""The projections' tables in the store's own database: what every database shares.

Tables are named `rm_<name>` in both databases (in the store's schema on
PostgreSQL), so an analyst's SQL reads the same on either. Logical column
types map to native ones where the database has them; each database's
subpackage (adapters.store.sqlite.projections, adapters.store.postgres.projections)
says how, and how values are encoded for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from projections.base import CENT, POSITIONS_TABLE, Column, ColumnType, Key, Row, Table

POSITIONS = POSITIONS_TABLE
Encoder = Callable[[Any], Any]


def table_name(table: Table) -> str:
    return table.stored_name


class ProjectionDatabase(ABC):
    """One connection to the store's database, with the dialect's SQL and value codecs.

    Statements are written with `?` placeholders; a database that wants
    another style translates them in `sql()`.
    """

    dialect: ClassVar[str]
    types: ClassVar[dict[ColumnType, str]]

    def __init__(self) -> None:
        self._encoders: dict[str, Callable[[Row], Sequence[Any]]] = {}

    # ------------------------------------------------------------ connection

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def execute(self, statement: str, params: Sequence[Any] = ()) -> int: ...

    @abstractmethod
    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def write(self) -> AbstractContextManager[None]:
        """One write transaction, holding the database's write lock from its start."""

    @abstractmethod
    def has_table(self, name: str) -> bool: ...

    def serialize_ddl(self) -> None:  # noqa: B027 - most databases need nothing here
        """Inside a write transaction: wait for other processes creating tables (where the catalog needs it)."""

    def bulk_load(self) -> None:  # noqa: B027 - most databases need nothing here
        """This connection is about to load many rows (a rebuild): tune it for that, where the database can."""

    def lock_clause(self) -> str:
        """Row locks for reads inside a write transaction (none where the write lock is whole-database)."""
        return ""

    def money_sort_term(self, name: str) -> str:
        """An ORDER BY term that sorts a money column by amount."""
        return name

    # ------------------------------------------------------------ schema

    def column_sql(self, column: Column) -> str:
        null = "" if column.nullable else " NOT NULL"
        return f"{column.name} {self.types[column.type]}{null}"

    def create_statements(self, table: Table) -> list[str]:
        """The table first, then its secondary indexes."""
        name = table_name(table)
        columns = ", ".join(self.column_sql(column) for column in table.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {name} ({columns}, PRIMARY KEY ({', '.join(table.key)}))"]
        for index in table.indexes:
            statements.append(f"CREATE INDEX IF NOT EXISTS {name}_{'_'.join(index)} ON {name} ({', '.join(index)})")
        return statements

    def drop_statement(self, table: Table) -> str:
        return f"DROP TABLE IF EXISTS {table_name(table)}"

    # ------------------------------------------------------------ values

    def encode(self, column: Column, value: Any) -> Any:
        """A value as this database takes it."""
        if value is None:
            return None
        convert = self.encoder(column)
        return value if convert is None else convert(value)

    @abstractmethod
    def encoder(self, column: Column) -> Encoder | None:
        """How to encode a non-null value of this column (None: it goes as it is)."""

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
        """A function written out for the table: one tuple display of its columns, each converted (unless None)
        where the database needs it. A rebuild encodes every row it writes; a loop over the columns with a
        call per value cost more than the database's insert."""
        scope: dict[str, Any] = {}
        terms = []
        for i, column in enumerate(table.columns):
            value = f"row[{column.name!r}]"
            convert = self.encoder(column)
            if convert is None:
                terms.append(value)
            else:
                scope[f"convert{i}"] = convert
                terms.append(f"(None if (v{i} := {value}) is None else convert{i}(v{i}))")
        source = f"def encode(row):\n    return ({', '.join(terms)},)\n"
        exec(compile(source, f"<encoder of {table.stored_name}>", "exec"), scope)  # the names are our own columns
        encode: Callable[[Row], Sequence[Any]] = scope["encode"]
        return encode

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

    def insert(self, table: Table) -> str:
        """A plain insert, for rows whose keys the table cannot hold yet."""
        names = table.column_names
        return f"INSERT INTO {table_name(table)} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"

    def delete_by_key(self, table: Table) -> str:
        return f"DELETE FROM {table_name(table)} WHERE " + " AND ".join(f"{name} = ?" for name in table.key)

    def select_all(self, table: Table, order: Sequence[str] | None = None) -> str:
        return (
            f"SELECT {', '.join(table.column_names)} FROM {table_name(table)} ORDER BY {', '.join(order or table.key)}"
        )

    def table_rows(self, table: Table) -> list[Row]:
        """Every row of a table in key order, decoded."""
        return [self.decode_row(table, values) for values in self.query(self.select_all(table))]
