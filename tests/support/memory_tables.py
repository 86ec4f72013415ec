"""Rows in dictionaries: the reference store for tests of projection logic."""

from __future__ import annotations

from projections.base import Key, Row, Table


class MemoryTables:
    """`Tables` kept in memory; rows are copied in and out (values are immutable) so callers cannot alias them."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[Key, Row]] = {}

    def get(self, table: Table, key: Key) -> Row | None:
        row = self.rows.get(table.name, {}).get(tuple(key))
        return None if row is None else dict(row)

    def put(self, table: Table, row: Row) -> None:
        missing = set(table.column_names) - row.keys()
        if missing:
            raise ValueError(f"{table.name}: row lacks {sorted(missing)}")
        self.rows.setdefault(table.name, {})[table.key_of(row)] = dict(row)

    def delete(self, table: Table, key: Key) -> None:
        self.rows.get(table.name, {}).pop(tuple(key), None)

    def scan(self, table: Table) -> list[Row]:
        return [dict(row) for _, row in sorted(self.rows.get(table.name, {}).items())]

    def table(self, table: Table) -> list[Row]:
        """All rows of a table in key order."""
        return self.scan(table)
