"""Running the projections against the store: catch up, follow live, rebuild.

The runner pulls the engine's notification log page by page (eventsourcing's
`select_notifications`; the SQLite recorder offers no subscription, so both
databases are polled) and feeds each page to the projections. A page's row
changes and the new positions are written in one transaction, which first
checks that the positions are still the ones the page started from: a crash
loses at most the page in flight and a second runner cannot apply a page
twice, so every notification changes the read models exactly once.

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
from typing import Any

from eventsourcing.persistence import ApplicationRecorder

from adapters.bootstrap import open_engine
from adapters.runtime import faults
from adapters.store.sqlite.events import store_url
from adapters.store.tables import POSITIONS, Database, table_name
from engine.application import RiskEngine
from projections.base import Key, Projection, Row, Table
from projections.decoding import RawNotification, make_transcoder
from projections.dispatch import Dispatcher
from projections.rebuild import BulkRebuild, PositionConflict
from projections.registry import BY_NAME, PROJECTIONS

log = logging.getLogger(__name__)

PAGE = 5000
_CacheKey = tuple[str, Key]


class SqlTables:
    """`projections.base.Tables` over the database: cached reads, writes kept until the page commits."""

    def __init__(self, db: Database, cache_limit: int = 400_000) -> None:
        self.db = db
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
            found = self.db.query(self.db.select_by_key(table), self.db.encode_key(table, key))
            row = self.db.decode_row(table, found[0]) if found else None
            self.cache[where] = row
        return None if row is None else dict(row)

    def put(self, table: Table, row: Row) -> None:
        self.pending[(table.name, table.key_of(row))] = (table, dict(row))

    def delete(self, table: Table, key: Key) -> None:
        self.pending[(table.name, tuple(key))] = (table, None)

    def scan(self, table: Table) -> list[Row]:
        rows = {
            table.key_of(row): row
            for row in (self.db.decode_row(table, v) for v in self.db.query(self.db.select_all(table)))
        }
        for (name, key), (_, row) in self.pending.items():
            if name != table.name:
                continue
            if row is None:
                rows.pop(key, None)
            else:
                rows[key] = row
        return [dict(rows[key]) for key in sorted(rows)]

    def flush(self) -> int:
        """Write the page's changes (inside the caller's transaction); returns rows written."""
        deletes: dict[str, tuple[Table, list[list[Any]]]] = {}
        upserts: dict[str, tuple[Table, list[Sequence[Any]]]] = {}
        for (name, key), (table, row) in self.pending.items():
            if row is None:
                deletes.setdefault(name, (table, []))[1].append(self.db.encode_key(table, key))
            else:
                upserts.setdefault(name, (table, []))[1].append(self.db.encode_row(table, row))
        for table, keys in deletes.values():
            self.db.executemany(self.db.delete_by_key(table), keys)
        for table, rows in upserts.values():
            self.db.executemany(self.db.upsert(table), rows)
        return len(self.pending)

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
    """All projections over one store; positions live in `rm_positions` beside the rows."""

    def __init__(self, store: str | None = None, page: int = PAGE, engine: RiskEngine | None = None) -> None:
        self.url = store_url(store)
        self.page = page
        self.projections: tuple[Projection, ...] = PROJECTIONS
        self._own_engine = engine is None
        self.engine = engine or open_engine(self.url)
        self.recorder: ApplicationRecorder = self.engine.recorder
        self.db = Database(self.url)
        self.tables = SqlTables(self.db)
        self.dispatcher = Dispatcher(self.projections)
        self.positions: dict[str, int] = {}
        self.committed = threading.Condition()
        self.setup()

    def close(self) -> None:
        self.db.close()
        if self._own_engine:
            self.engine.close()

    # ------------------------------------------------------------ schema and positions

    def setup(self) -> None:
        """Create missing tables; rebuild from zero a projection whose version changed."""
        with self.db.write():
            self._serialize_ddl()
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {POSITIONS} (projection TEXT PRIMARY KEY, version INTEGER NOT NULL, "
                "position BIGINT NOT NULL, updated_at TEXT)"
            )
            recorded = {row[0]: row[1] for row in self.db.query(f"SELECT projection, version FROM {POSITIONS}")}
            for projection in self.projections:
                if recorded.get(projection.name) != projection.version:
                    if projection.name in recorded:
                        log.warning("projection %s changed version: rebuilding it", projection.name)
                    self._reset(projection)
                else:
                    for table in projection.tables:
                        for statement in self.db.create_statements(table):
                            self.db.execute(statement)
        self.load_positions()

    def _serialize_ddl(self) -> None:
        if self.db.postgres:  # two runners creating tables at once would collide in the catalog
            self.db.query("SELECT pg_advisory_xact_lock(7466213)")

    def _reset(self, projection: Projection, indexes: bool = True) -> None:
        """Empty tables at position 0; without `indexes` only the tables (a bulk load indexes them after)."""
        for table in projection.tables:
            self.db.execute(self.db.drop_statement(table))
            statements = self.db.create_statements(table)
            for statement in statements if indexes else statements[:1]:
                self.db.execute(statement)
        self.db.execute(
            f"INSERT INTO {POSITIONS} (projection, version, position, updated_at) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (projection) DO UPDATE SET version = excluded.version, position = 0, "
            "updated_at = excluded.updated_at",
            [projection.name, projection.version, _now()],
        )

    def load_positions(self) -> None:
        rows = self.db.query(f"SELECT projection, position FROM {POSITIONS}")
        found = {str(name): int(position) for name, position in rows}
        self.positions = {p.name: found.get(p.name, 0) for p in self.projections}

    # ------------------------------------------------------------ processing

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def run_once(self, limit: int | None = None) -> int:
        """Apply the next page of notifications; returns how many were read (0: caught up)."""
        start = min(self.positions.values())
        notifications = self.recorder.select_notifications(start + 1, limit or self.page)
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
        changed = [(position, _now(), name) for name, position in new.items() if position != self.positions[name]]
        with self.db.write():
            stored = dict(self.db.query(f"SELECT projection, position FROM {POSITIONS}{self.db.lock_clause()}"))
            if any(stored.get(name) != position for name, position in self.positions.items()):
                raise PositionConflict(f"expected {self.positions}, found {stored}")
            self.tables.flush()
            faults.reached("projections.in_page")
            self.db.executemany(f"UPDATE {POSITIONS} SET position = ?, updated_at = ? WHERE projection = ?", changed)
        self.tables.committed()
        with self.committed:
            self.positions = new
            self.committed.notify_all()

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
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
            except Exception:
                log.exception("projection page failed; reconnecting and retrying in %.1fs", retry_interval)
                stop.wait(retry_interval)
                self._reconnect()
                continue
            if read < self.page:
                stop.wait(poll_interval)

    def rebuild(self, names: Iterable[str] | None = None, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop and recreate the named projections' tables (all by default), then rebuild them from the log.

        Up to the head at the start the projections run over rows in memory
        (projections.rebuild), then the runner catches up as usual.
        """
        chosen = [BY_NAME[name] for name in names] if names else list(self.projections)
        with self.db.write():
            self._serialize_ddl()
            for projection in chosen:
                self._reset(projection, indexes=False)
        faults.reached("projections.after_reset")
        self.tables.discard()
        head = self.head()
        order = [p for p in self.projections if p is self.projections[0] or p in chosen]  # the account index first
        bulk = BulkRebuild(self.db, self._read_rows, order, [p.name for p in chosen], now=_now)
        try:
            applied = bulk.run(head, progress)
        except PositionConflict:
            log.info("projection positions moved under the rebuild: carrying on page by page")
            applied = 0
        finally:
            self._create_indexes(chosen)
        self.load_positions()
        return applied + self.catch_up(progress)

    def _create_indexes(self, projections: Iterable[Projection]) -> None:
        """The secondary indexes, built once over the loaded rows (cheaper than row by row)."""
        with self.db.write():
            self._serialize_ddl()
            for projection in projections:
                for table in projection.tables:
                    for statement in self.db.create_statements(table)[1:]:
                        self.db.execute(statement)

    def _read_rows(self, start: int, limit: int) -> list[RawNotification]:
        read = getattr(self.recorder, "select_notification_rows", None)
        if read is None:  # a recorder of eventsourcing's own
            return [
                RawNotification(n.id, n.originator_id, n.topic, n.state)
                for n in self.recorder.select_notifications(start, limit)
            ]
        return [RawNotification(*row) for row in read(start, limit)]

    def _reconnect(self) -> None:
        """A fresh connection after a failure (the database may have restarted); positions reread."""
        try:
            self.db.close()
        except Exception:  # the old connection is already broken
            log.debug("closing a broken read-model connection failed", exc_info=True)
        try:
            self.db = Database(self.url)
            self.tables = SqlTables(self.db)
            self.load_positions()
        except Exception:
            log.warning("read-model database still unavailable", exc_info=True)

    # ------------------------------------------------------------ status

    def status(self) -> list[ProjectionStatus]:
        return projection_status(self.db, self.recorder, self.projections)

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
    db: Database, recorder: ApplicationRecorder, projections: Sequence[Projection] = PROJECTIONS
) -> list[ProjectionStatus]:
    """Each projection's position against the store's head; lag in events and in seconds.

    The lag in seconds is the age of the oldest notification a projection has not applied yet
    (its recording time), so 0 means caught up.
    """
    head = recorder.max_notification_id() or 0
    rows = {}
    if db.has_table(POSITIONS):
        rows = {row[0]: row for row in db.query(f"SELECT projection, version, position, updated_at FROM {POSITIONS}")}
    transcoder = make_transcoder()
    now = datetime.now(UTC)
    result = []
    for projection in projections:
        _, version, position, updated_at = rows.get(projection.name, (projection.name, 0, 0, None))
        lag_seconds: float | None = 0.0
        if position < head:
            following = recorder.select_notifications(int(position) + 1, 1)
            stamp = transcoder.decode(following[0].state).get("timestamp") if following else None
            lag_seconds = round((now - stamp).total_seconds(), 3) if isinstance(stamp, datetime) else None
        result.append(
            ProjectionStatus(
                projection.name,
                int(version),
                int(position),
                head,
                max(0, head - int(position)),
                lag_seconds,
                updated_at,
                tuple(table_name(t) for t in projection.tables),
            )
        )
    return result


def table_rows(db: Database, table: Table) -> list[Row]:
    """Every row of a read-model table in key order, decoded."""
    return [db.decode_row(table, values) for values in db.query(db.select_all(table))]


def names_or_all(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown projection {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return list(names) or list(BY_NAME)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
