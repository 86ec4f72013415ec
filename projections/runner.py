"""Running the projections over the notification log: catch up, follow live, rebuild.

The runner reads the log a page at a time (`ports.NotificationLog`) and feeds
each page to the projections. A page's row changes and the new positions are
written in one transaction (`ports.ProjectionStore.write`), which first checks
that the positions are still the ones the page started from: a crash loses at
most the page in flight and a second runner cannot apply a page twice, so
every notification changes the read models exactly once.

Rows are read through a cache and written at the end of the page, which keeps
the write transaction short (SQLite has a single writer: the engine's).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from projections.base import Key, Projection, Row, Table
from projections.dispatch import Dispatcher
from projections.ports import Changes, NotificationLog, PositionConflict, ProjectionStore
from projections.rebuild import BulkRebuild
from projections.registry import BY_NAME, PROJECTIONS

log = logging.getLogger(__name__)

PAGE = 5000
_CacheKey = tuple[str, Key]
Progress = Callable[[int, int], None]
"""progress(position, head) after each page."""


class PageTables:
    """`projections.base.Tables` over the store: cached reads, writes kept until the page commits."""

    def __init__(self, store: ProjectionStore, cache_limit: int = 400_000) -> None:
        self.store = store
        self.cache_limit = cache_limit
        self.cache: dict[_CacheKey, Row | None] = {}
        self.pending: dict[_CacheKey, tuple[Table, Row | None]] = {}

    def get(self, table: Table, key: Key) -> Row | None:
        where = (table.name, tuple(key))
        if where in self.pending:
            row = self.pending[where][1]
        elif where in self.cache:
            row = self.cache[where]
        else:
            row = self.cache[where] = self.store.read(table, key)
        return None if row is None else dict(row)

    def put(self, table: Table, row: Row) -> None:
        self.pending[(table.name, table.key_of(row))] = (table, dict(row))

    def delete(self, table: Table, key: Key) -> None:
        self.pending[(table.name, tuple(key))] = (table, None)

    def scan(self, table: Table) -> list[Row]:
        rows = {table.key_of(row): row for row in self.store.read_all(table)}
        for (name, key), (_, row) in self.pending.items():
            if name != table.name:
                continue
            if row is None:
                rows.pop(key, None)
            else:
                rows[key] = row
        return [dict(rows[key]) for key in sorted(rows)]

    def changes(self) -> Changes:
        """The page's changes, per table."""
        by_table: dict[str, tuple[Table, dict[Key, Row | None]]] = {}
        for (name, key), (table, row) in self.pending.items():
            by_table.setdefault(name, (table, {}))[1][key] = row
        return list(by_table.values())

    def committed(self) -> None:
        if len(self.cache) + len(self.pending) > self.cache_limit:
            self.cache.clear()
        for where, (_, row) in self.pending.items():
            self.cache[where] = row
        self.pending.clear()

    def discard(self) -> None:
        """Forget everything: after a failed page the cache may hold rows that were never written."""
        self.cache.clear()
        self.pending.clear()


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    version: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float | None
    updated_at: str | None
    tables: tuple[str, ...]


class ProjectionRunner:
    """All projections over one log and one projection store."""

    def __init__(
        self,
        log: NotificationLog,
        store: ProjectionStore,
        page: int = PAGE,
        projections: Sequence[Projection] = PROJECTIONS,
        unavailable: Callable[[BaseException], bool] = lambda error: False,
    ) -> None:
        self.log = log
        self.store = store
        self.page = page
        # Whether an error says the store is unavailable (down, restarting): while following, one line each,
        # no traceback.
        self.unavailable = unavailable
        self.projections = tuple(projections)
        self.tables = PageTables(store)
        self.dispatcher = Dispatcher(self.projections)
        self.positions: dict[str, int] = {}
        self.committed = threading.Condition()
        self.store.prepare(self.projections)
        self.load_positions()

    def close(self) -> None:
        self.store.close()

    def load_positions(self) -> None:
        found = self.store.positions()
        self.positions = {p.name: found.get(p.name, 0) for p in self.projections}

    # ------------------------------------------------------------ processing

    def head(self) -> int:
        return self.log.head()

    def run_once(self, limit: int | None = None) -> int:
        """Apply the next page of notifications; returns how many were read (0: caught up)."""
        start = min(self.positions.values())
        notifications = self.log.read(start + 1, limit or self.page)
        if not notifications:
            return 0
        try:
            new = self.dispatcher.apply(notifications, self.positions, self.tables)
            self._commit(new)
        except PositionConflict:
            log.info("projection positions moved under us: reloading")
            self.tables.discard()
            self.load_positions()
            return len(notifications)
        except BaseException:
            self.tables.discard()
            raise
        return len(notifications)

    def _commit(self, new: dict[str, int]) -> None:
        moved = {name: position for name, position in new.items() if position != self.positions[name]}
        self.store.write(self.tables.changes(), self.positions, moved, bulk=False)
        self.tables.committed()
        with self.committed:
            self.positions = new
            self.committed.notify_all()

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply everything the store holds now; `progress(position, head)` after each page."""
        applied = 0
        head = self.head()
        while True:
            read = self.run_once()
            applied += read
            position = min(self.positions.values())
            head = max(head, position)
            if progress:
                progress(position, head)
            if read == 0:
                return applied

    def follow(self, stop: threading.Event, poll_interval: float = 0.2, retry_interval: float = 2.0) -> None:
        """Apply new notifications as they are stored, until `stop` is set."""
        while not stop.is_set():
            try:
                read = self.run_once()
            except Exception as error:
                if self.unavailable(error):  # an outage: one line each time, no traceback
                    name = type(error).__name__
                    log.warning("projection page failed (%s: %s); retrying in %.1fs", name, error, retry_interval)
                else:
                    log.exception("projection page failed; reconnecting and retrying in %.1fs", retry_interval)
                stop.wait(retry_interval)
                self._reconnect()
                continue
            if read < self.page:
                stop.wait(poll_interval)

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> int:
        """Empty the named projections (all by default), then rebuild them from the log.

        Up to the head at the start the projections run over rows in memory
        (projections.rebuild), then the runner catches up as usual.
        """
        chosen = [BY_NAME[name] for name in names] if names else list(self.projections)
        self.store.reset(chosen)
        self.tables.discard()
        head = self.head()
        bulk = BulkRebuild(self.store, self.log.read, chosen)
        try:
            applied = bulk.run(head, progress)
        except PositionConflict:
            log.info("projection positions moved under the rebuild: carrying on page by page")
            applied = 0
        finally:
            self.store.create_indexes(chosen)
        self.load_positions()
        return applied + self.catch_up(progress)

    def _reconnect(self) -> None:
        """A fresh connection after a failure; positions reread."""
        try:
            self.store.reopen()
            self.tables.discard()
            self.load_positions()
        except Exception as error:
            quiet = self.unavailable(error)  # an outage: one line; anything else: its traceback
            log.warning("projection store still unavailable (%s)", type(error).__name__, exc_info=not quiet)

    # ------------------------------------------------------------ status

    def status(self) -> list[ProjectionStatus]:
        return projection_status(self.log, self.store, self.projections)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every projection has applied `position` (for a follower in another thread)."""
        deadline = time.monotonic() + timeout
        with self.committed:
            while min(self.positions.values()) < position:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.committed.wait(left)
        return True


def projection_status(
    log: NotificationLog, store: ProjectionStore, projections: Sequence[Projection] = PROJECTIONS
) -> list[ProjectionStatus]:
    """Each projection's position against the store's head; lag in events and in seconds.

    The lag in seconds is the age of the oldest notification a projection has not applied yet
    (its recording time), so 0 means caught up.
    """
    head = log.head()
    stored = store.stored_positions()
    now = datetime.now(UTC)
    result = []
    for projection in projections:
        found = stored.get(projection.name)
        version, position, updated_at = (found.version, found.position, found.updated_at) if found else (0, 0, None)
        lag_seconds: float | None = 0.0
        if position < head:
            stamp = log.recorded_at(position + 1)
            lag_seconds = None if stamp is None else round((now - stamp).total_seconds(), 3)
        result.append(
            ProjectionStatus(
                projection.name,
                version,
                position,
                head,
                max(0, head - position),
                lag_seconds,
                updated_at,
                tuple(t.stored_name for t in projection.tables),
            )
        )
    return result


def names_or_all(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown projection {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return list(names) or list(BY_NAME)
