"""The projections' rows and positions in the store's database (projections.ports.ProjectionStore).

Positions live in `rm_positions` beside the rows. Every write first re-reads
them inside its transaction (PostgreSQL: `FOR UPDATE`; SQLite's write lock
is whole-database) and applies only if they are still the ones expected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.runtime import faults
from adapters.store.tables import POSITIONS, ProjectionDatabase
from projections.base import Key, Projection, Row, Table
from projections.ports import Changes, PositionConflict, StoredPosition

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqlProjectionStore:
    def __init__(self, connect: Callable[[], ProjectionDatabase], db: ProjectionDatabase | None = None) -> None:
        self.connect = connect
        self.db = db or connect()

    @classmethod
    def on(cls, db: ProjectionDatabase) -> SqlProjectionStore:
        """A store over a connection someone else owns (reads only: reopening gives the same connection)."""
        return cls(lambda: db, db)

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        try:
            self.db.close()
        except Exception:  # the old connection is already broken
            log.debug("closing a broken projection connection failed", exc_info=True)
        self.db = self.connect()

    # ------------------------------------------------------------ schema and positions

    def prepare(self, projections: Sequence[Projection]) -> None:
        db = self.db
        with db.write():
            db.serialize_ddl()
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {POSITIONS} (projection TEXT PRIMARY KEY, version INTEGER NOT NULL, "
                "position BIGINT NOT NULL, updated_at TEXT)"
            )
            recorded = {name: version for name, (version, _) in self._locked_positions().items()}
            for projection in projections:
                if recorded.get(projection.name) != projection.version:
                    if projection.name in recorded:
                        log.warning("projection %s changed version: rebuilding it", projection.name)
                    self._reset(projection)
                else:
                    for table in projection.tables:
                        for statement in db.create_statements(table):
                            db.execute(statement)

    def _reset(self, projection: Projection, indexes: bool = True) -> None:
        """Empty tables at position 0; without `indexes` only the tables (a bulk load indexes them after)."""
        db = self.db
        for table in projection.tables:
            db.execute(db.drop_statement(table))
            statements = db.create_statements(table)
            for statement in statements if indexes else statements[:1]:
                db.execute(statement)
        db.execute(
            f"INSERT INTO {POSITIONS} (projection, version, position, updated_at) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (projection) DO UPDATE SET version = excluded.version, position = 0, "
            "updated_at = excluded.updated_at",
            [projection.name, projection.version, _now()],
        )

    def _locked_positions(self) -> dict[str, tuple[int, int]]:
        """Every projection's (version, position), its row locked on PostgreSQL, in the projections' name order.

        Each transaction that changes positions takes them so before it changes any: writers at once (the
        processes of a parallel rebuild, resetting and loading different read models) then queue here. Locked in
        the order a scan met them, or a reset's rows one by one in its group's order, they deadlocked.
        """
        db = self.db
        rows = db.query(f"SELECT projection, version, position FROM {POSITIONS} ORDER BY projection{db.lock_clause()}")
        return {str(name): (int(version), int(position)) for name, version, position in rows}

    def reset(self, projections: Sequence[Projection]) -> None:
        self.db.bulk_load()  # a rebuild follows
        with self.db.write():
            self.db.serialize_ddl()
            self._locked_positions()
            for projection in projections:
                self._reset(projection, indexes=False)
        faults.reached("projections.after_reset")

    def create_indexes(self, projections: Sequence[Projection]) -> None:
        """The secondary indexes, built once over loaded rows (cheaper than row by row)."""
        db = self.db
        with db.write():
            db.serialize_ddl()
            for projection in projections:
                for table in projection.tables:
                    for statement in db.create_statements(table)[1:]:
                        db.execute(statement)

    def positions(self) -> dict[str, int]:
        return {
            str(name): int(position)
            for name, position in self.db.query(f"SELECT projection, position FROM {POSITIONS}")
        }

    def stored_positions(self) -> dict[str, StoredPosition]:
        if not self.db.has_table(POSITIONS):
            return {}
        rows = self.db.query(f"SELECT projection, version, position, updated_at FROM {POSITIONS}")
        return {
            str(name): StoredPosition(int(version), int(position), updated_at)
            for name, version, position, updated_at in rows
        }

    # ------------------------------------------------------------ rows

    def read(self, table: Table, key: Key) -> Row | None:
        db = self.db
        found = db.query(db.select_by_key(table), db.encode_key(table, key))
        return db.decode_row(table, found[0]) if found else None

    def read_all(self, table: Table) -> list[Row]:
        return self.db.table_rows(table)

    def write(self, changes: Changes, expected: Mapping[str, int], new: Mapping[str, int], *, bulk: bool) -> int:
        db = self.db
        # Rows are encoded before the transaction: the write lock (SQLite's is whole-database) is held only for the
        # database's own work, so the other processes of a parallel rebuild wait less.
        encoded = [(table, *self._encode(table, rows, bulk)) for table, rows in changes]
        with db.write():
            stored = {name: position for name, (_, position) in self._locked_positions().items()}
            if any(stored.get(name) != position for name, position in expected.items()):
                raise PositionConflict(f"expected {dict(expected)}, found {stored}")
            for table, deleted, changed in encoded:
                db.executemany(db.delete_by_key(table), deleted)
                # An append-only table's keys are each put once, and a bulk write loads a table emptied for it.
                db.executemany(db.insert(table) if bulk and table.append_only else db.upsert(table), changed)
            faults.reached("projections.in_bulk_write" if bulk else "projections.in_page")
            now = _now()
            db.executemany(
                f"UPDATE {POSITIONS} SET position = ?, updated_at = ? WHERE projection = ?",
                [(position, now, name) for name, position in new.items()],
            )
        return sum(len(rows) for _, rows in changes)

    def _encode(
        self, table: Table, rows: Mapping[Key, Row | None], bulk: bool
    ) -> tuple[list[list[Any]], list[Sequence[Any]]]:
        """The keys to delete and the rows to write, as the database takes them."""
        db = self.db
        deleted = [db.encode_key(table, key) for key, row in rows.items() if row is None]
        # A bulk write goes in key order: each row lands beside the last one in the table's b-tree.
        ordered = [rows[key] for key in sorted(rows)] if bulk else rows.values()
        return deleted, [db.encode_row(table, row) for row in ordered if row is not None]
