"""Rebuilding projections in memory: the log through the projections, rows written in bulk.

A rebuild starts from empty tables, so every row a projection reads is one it
wrote earlier in the same rebuild: the rows live in dictionaries and a miss
needs no query. The same projection code runs as on the live path (the rows
come out the same); what differs is where rows wait and how they are written.

Each projection's rows are written in one transaction together with its
position (`ports.ProjectionStore.write`), so a rebuild stopped at any instant
leaves every projection at a position that matches its rows, and the runner
carries on from there (exactly once, as for a live page). A projection is
written when the rebuild ends, or earlier at a checkpoint once it holds more
rows than the memory budget (the per-event timelines do); its rows then leave
memory and a later miss reads them back from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from projections.base import Key, Projection, Row, Table
from projections.decoding import StoredNotification
from projections.dispatch import Dispatcher
from projections.ports import ProjectionStore

log = logging.getLogger(__name__)

READ_PAGE = 20_000  # stored events per read
CHECKPOINT = 100_000  # stored events between checks of the memory budget
BUDGET = 300_000  # rows a projection may keep in memory before it is written out at a checkpoint
# (300,000: the working rows of the 1M-event benchmark's 100,000 accounts stay in memory, two tables of them
# for collection; once evicted, every row a projection reads again is one query)

_ABSENT: Row = {}  # a key looked up in the store and not found there (tables read back only)


class BulkTables:
    """`projections.base.Tables` for a rebuild: rows in memory, changes kept until written.

    Rows are handed out and kept as they are, not copied (the contract of
    `Tables`: a projection puts back what it changes); the dirty set maps each
    changed key to its new row, or None once deleted. The rows of an
    append-only table (`Table.append_only`) are only kept until written:
    nothing reads them back.
    """

    def __init__(self, store: ProjectionStore, tables: Sequence[Table]) -> None:
        self.store = store
        self.by_name = {table.name: table for table in tables}
        self.rows: dict[str, dict[Key, Row]] = {table.name: {} for table in tables}
        self.dirty: dict[str, dict[Key, Row | None]] = {table.name: {} for table in tables}
        # Tables whose rows are not all in memory: a miss reads the store (an append-only table from the start).
        self.partial: set[str] = {table.name for table in tables if table.append_only}

    def get(self, table: Table, key: Key) -> Row | None:
        rows = self.rows[table.name]
        row = rows.get(key)
        if row is None:
            if table.name not in self.partial:
                return None
            row = self.dirty[table.name].get(key) if table.append_only else None
            if row is None:
                row = rows[key] = self.store.read(table, key) or _ABSENT
        return None if row is _ABSENT else row

    def put(self, table: Table, row: Row) -> None:
        key = table.key_of(row)
        name = table.name
        if not table.append_only:
            self.rows[name][key] = row
        self.dirty[name][key] = row

    def delete(self, table: Table, key: Key) -> None:
        key = tuple(key)
        if table.name in self.partial:
            self.rows[table.name][key] = _ABSENT
        else:
            self.rows[table.name].pop(key, None)
        self.dirty[table.name][key] = None

    def scan(self, table: Table) -> list[Row]:
        rows = {key: row for key, row in self.rows[table.name].items() if row is not _ABSENT}
        if table.name in self.partial:
            for row in self.store.read_all(table):
                key = table.key_of(row)
                if key not in self.rows[table.name]:
                    rows[key] = row
        return [dict(rows[key]) for key in sorted(rows)]

    def held(self, tables: Sequence[Table]) -> int:
        """Rows these tables keep in memory."""
        return sum(len(self.dirty[t.name] if t.append_only else self.rows[t.name]) for t in tables)

    def changes(self, tables: Sequence[Table]) -> list[tuple[Table, dict[Key, Row | None]]]:
        return [(table, self.dirty[table.name]) for table in tables]

    def written(self, tables: Sequence[Table]) -> None:
        """The changes of these tables are committed."""
        for table in tables:
            self.dirty[table.name] = {}

    def evict(self, tables: Sequence[Table]) -> None:
        """Drop these tables' rows from memory (they must be written): misses read the store from now on."""
        for table in tables:
            assert not self.dirty[table.name], f"{table.name} has unwritten rows"
            self.rows[table.name] = {}
            self.partial.add(table.name)


class BulkRebuild:
    """Rebuild `chosen` (whose tables were just reset to empty) from the log, up to `head`.

    Each write checks the chosen projections' positions, as a live page does.
    """

    def __init__(
        self,
        store: ProjectionStore,
        read: Callable[[int, int], Sequence[StoredNotification]],
        chosen: Sequence[Projection],
        *,
        read_page: int = READ_PAGE,
        checkpoint: int = CHECKPOINT,
        budget: int = BUDGET,
    ) -> None:
        self.store = store
        self.read = read
        self.chosen = list(chosen)
        self.read_page = read_page
        self.checkpoint = checkpoint
        self.budget = budget
        self.tables = BulkTables(store, [table for p in self.chosen for table in p.tables])
        self.stored = {p.name: 0 for p in self.chosen}  # positions as the store holds them

    def run(self, head: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply notifications 1..head; returns how many were read."""
        dispatcher = Dispatcher(self.chosen)
        positions: dict[str, int] = {p.name: 0 for p in self.chosen}
        start, read, since = 1, 0, 0
        while start <= head:
            page = self.read(start, min(self.read_page, head - start + 1))
            if not page:
                break
            positions = dispatcher.apply(page, positions, self.tables)
            start = page[-1].id + 1
            read += len(page)
            since += len(page)
            if since >= self.checkpoint:
                since = 0
                self._spill(positions)
            if progress:
                progress(page[-1].id, head)
        self._write(self.chosen, positions)
        return read

    def _spill(self, positions: dict[str, int]) -> None:
        """Write out and forget the projections holding more rows than the budget."""
        large = [p for p in self.chosen if self.tables.held(p.tables) > self.budget]
        if large:
            self._write(large, positions)
            for projection in large:
                self.tables.evict(projection.tables)

    def _write(self, projections: Sequence[Projection], positions: dict[str, int]) -> None:
        tables = [table for p in projections for table in p.tables]
        names = [p.name for p in projections]
        expected = {name: self.stored[name] for name in names}
        new = {name: positions[name] for name in names}
        written = self.store.write(self.tables.changes(tables), expected, new, bulk=True)
        self.tables.written(tables)
        self.stored.update(new)
        log.debug("rebuild wrote %d rows of %s", written, ", ".join(names))
