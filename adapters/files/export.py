"""Exports of a read-model table to CSV or Parquet, streamed in chunks.

Parquet keeps the types analysts need: money as decimal(20,2) (exact), times
as timestamps with their zone (UTC, as the column's type says), dates as
dates; JSON columns travel as JSON text.

CSV is opened by people in spreadsheets, so it is written for them: times in
the account's zone with their offset (`2026-09-11T09:00:00+08:00`, as the API
gives them), and text cells that a spreadsheet would run as a formula
(beginning with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with
a single quote (OWASP's rule against CSV injection); numbers (money,
integers, ratios, negative balances too) are never touched and stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from adapters.store.queries import localize
from adapters.store.tables import ProjectionDatabase, table_name
from projections.base import ColumnType, Row, Table

if TYPE_CHECKING:
    import pyarrow as pa

CHUNK = 50_000
Shown = Callable[[list[Row]], list[Row]]
"""What a row becomes for the people who read the export: sealed personal values opened (adapters.privacy.reveal)."""


def _as_stored(rows: list[Row]) -> list[Row]:
    return rows


def arrow_schema(table: Table) -> pa.Schema:
    """The table as Parquet types it (pyarrow is imported here: only a Parquet export pays for it)."""
    import pyarrow as pa  # noqa: PLC0415

    types = {
        ColumnType.TEXT: pa.string(),
        ColumnType.INTEGER: pa.int64(),
        ColumnType.BOOLEAN: pa.bool_(),
        ColumnType.MONEY: pa.decimal128(20, 2),
        ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
        ColumnType.DATE: pa.date32(),
        ColumnType.JSON: pa.string(),
        ColumnType.RATIO: pa.float64(),
    }
    return pa.schema(
        [
            pa.field(column.name, types[column.type], nullable=column.nullable, metadata={"doc": column.doc})
            for column in table.columns
        ],
        metadata={"table": table_name(table), "doc": table.doc},
    )


def chunks(db: ProjectionDatabase, table: Table, size: int = CHUNK) -> Iterator[list[Row]]:
    """The table's rows in key order, `size` at a time (keyset paging: no OFFSET scans)."""
    names = ", ".join(table.column_names)
    key = ", ".join(table.key)
    after: list[Any] | None = None
    while True:
        where = ""
        params: list[Any] = []
        if after is not None:
            placeholders = ", ".join("?" * len(table.key))
            where = f" WHERE ({key}) > ({placeholders})"
            params = after
        rows = db.query(f"SELECT {names} FROM {table_name(table)}{where} ORDER BY {key} LIMIT ?", [*params, size])
        if not rows:
            return
        decoded = [db.decode_row(table, row) for row in rows]
        yield decoded
        last = rows[-1]
        after = [last[table.column_names.index(name)] for name in table.key]
        if len(rows) < size:
            return


def _cell(table: Table, name: str, value: Any) -> Any:
    if value is not None and table.column(name).type is ColumnType.JSON:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TEXTUAL = (ColumnType.TEXT, ColumnType.JSON)


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would take for a formula, made inert with a leading single quote (OWASP)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write_csv(db: ProjectionDatabase, table: Table, out: IO[str], shown: Shown = _as_stored) -> int:
    writer = csv.writer(out)
    writer.writerow(table.column_names)
    textual = {column.name for column in table.columns if column.type in _TEXTUAL}
    count = 0
    for rows in chunks(db, table):
        for row in localize(db, shown(rows)):
            cells = []
            for name in table.column_names:
                value = _cell(table, name, row[name])
                text = "" if value is None else _csv_text(value)
                cells.append(neutralise(text) if name in textual else text)
            writer.writerow(cells)
        count += len(rows)
    return count


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def write_parquet(db: ProjectionDatabase, table: Table, path: Path, shown: Shown = _as_stored) -> int:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    schema = arrow_schema(table)
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for stored in chunks(db, table):
            rows = shown(stored)
            columns = {name: [_cell(table, name, row[name]) for row in rows] for name in table.column_names}
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            count += len(rows)
        if count == 0:
            writer.write_table(schema.empty_table())
    return count
