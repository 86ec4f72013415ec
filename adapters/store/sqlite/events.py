"""The event store on SQLite: eventsourcing's recorder, writing the engine's index tables in the same transaction.

`fengkong_inbound` (event_id -> payload digest, for deduplication),
`fengkong_agenda` (accounts waiting for a business date),
`fengkong_positions` (the next source offset per partition, for Kafka) and
the emergency brake's tables are written in one transaction with a batch's
events (adapters.store.engine_tables). The brake's record is "locked" by
SQLite's own write lock: a batch that judges automatic locks takes it with
its first statement, so the record it reads cannot move before it commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from adapters.runtime import faults
from adapters.store.engine_tables import BRAKE_COLUMNS, HOLD_COLUMNS, agenda_rows, emitted_locks, hold_rows
from adapters.store.sqlite.checkpoint import Checkpointer
from engine.application import BrakeSettlement
from engine.batch import InboundRow, Position
from engine.brake import BrakeState
from events.recorded import SYSTEM_STREAM_PREFIX, SYSTEM_STREAMS

_CHUNK = 500
_CHECKPOINT_PAGES = 16_384  # the writer's own checkpoint, after 64 MiB: a backstop (sqlite.checkpoint does it)
# Stored events between background checkpoints: about 30-60 MiB of WAL on a large store. After every
# batch would copy back pages that the next batches dirty again (measured: more work, not less).
_CHECKPOINT_EVERY = 8_000
_ENGINE_CACHE = "PRAGMA cache_size = -131072"
"""The page cache of the connection the engine writes on and deduplicates with: 128 MiB (SQLite's default is 2).
Every event reads and dirties a random page of two indexes, the streams' and `fengkong_inbound`'s; once they
outgrow the cache each such page is read again from the file, a system call. Measured on the 1M workload
(1,000,000 events, one process, one run each): system time 27.7 s -> 13.4 s, and the CPU per event of the last
100,000 events 150 -> 134 us. Both indexes fit up to about 2 million events; SQLite allocates the pages as it
uses them, so a small store uses little. Set per transaction: eventsourcing opens the connections, with no hook."""


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _tuples(c: SQLiteCursor) -> SQLiteCursor:
    """Rows as plain tuples (eventsourcing's connections make sqlite3.Row objects): the bulk reads go faster."""
    c.sqlite_cursor.row_factory = None
    return c


class SQLiteEngineRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self._checkpointer: Checkpointer | None = None  # started by the first commit that stores events
        self._since_checkpoint = 0  # stored events committed since the checkpointer was last kicked

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.datastore.close()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Save in one transaction (`_insert_events`), then let the checkpointer copy the WAL back (checkpoint)."""
        notification_ids = super().insert_events(stored_events, **kwargs)
        self._since_checkpoint += len(notification_ids or ())  # a settled batch stores more than it was handed
        if self._since_checkpoint >= _CHECKPOINT_EVERY and not self.datastore.pool.is_sqlite_memory_mode:
            self._since_checkpoint = 0
            if self._checkpointer is None or not self._checkpointer.is_alive():
                self._checkpointer = Checkpointer(self.datastore.pool.db_name)
                self._checkpointer.start()
            self._checkpointer.kick()
        return notification_ids

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS fengkong_inbound (event_id TEXT PRIMARY KEY, digest BLOB NOT NULL) "
            "WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS fengkong_agenda (account_id TEXT PRIMARY KEY, "
            "due_date TEXT NOT NULL) WITHOUT ROWID",
            "CREATE INDEX IF NOT EXISTS fengkong_agenda_due ON fengkong_agenda (due_date)",
            "CREATE TABLE IF NOT EXISTS fengkong_positions (source TEXT NOT NULL, "
            "partition INTEGER NOT NULL, next_offset INTEGER NOT NULL, "
            "PRIMARY KEY (source, partition)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS fengkong_brake (id INTEGER PRIMARY KEY, active INTEGER NOT NULL, "
            "version INTEGER NOT NULL, tripped_since INTEGER, last_at INTEGER, last_bound INTEGER)",
            "CREATE TABLE IF NOT EXISTS fengkong_brake_locks (cause_at INTEGER NOT NULL, account_id TEXT NOT NULL, "
            "event_id TEXT NOT NULL, PRIMARY KEY (cause_at, account_id, event_id)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS fengkong_holds (account_id TEXT PRIMARY KEY, hold_id TEXT NOT NULL, "
            "rule TEXT NOT NULL, cause_event_id TEXT NOT NULL, cause_at INTEGER NOT NULL, held_count INTEGER NOT NULL, "
            "active INTEGER NOT NULL, bound INTEGER NOT NULL, commands TEXT NOT NULL) WITHOUT ROWID",
            "CREATE UNIQUE INDEX IF NOT EXISTS fengkong_holds_id ON fengkong_holds (hold_id)",
        ]

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT 1 FROM fengkong_brake WHERE id = 1")
            if c.fetchone() is not None:
                return
        # A write first: a transaction that read first could not take the write lock another writer moved past.
        with self.datastore.transaction(commit=True) as c:
            c.execute("INSERT OR IGNORE INTO fengkong_brake (id, active, version) VALUES (1, 0, 0)")
            c.execute("SELECT changes()")
            if c.fetchone()[0]:
                self._count_what_is_recorded(c)

    def _count_what_is_recorded(self, c: SQLiteCursor) -> None:
        """The brake's record is new: count what a store recorded before the brake existed."""
        c.execute(
            f"SELECT count(DISTINCT originator_id) FROM {self.events_table_name} WHERE originator_id NOT LIKE ?",
            [SYSTEM_STREAM_PREFIX + "%"],
        )
        active = c.fetchone()[0]
        c.execute("UPDATE fengkong_brake SET active = ? WHERE id = 1", [active])
        c.execute(
            f"SELECT originator_id, state FROM {self.events_table_name} "
            "WHERE originator_id NOT LIKE ? AND CAST(state AS TEXT) LIKE '%LockCard%'",
            [SYSTEM_STREAM_PREFIX + "%"],
        )
        locks = emitted_locks((row[0], bytes(row[1])) for row in c.fetchall())
        c.executemany("INSERT OR IGNORE INTO fengkong_brake_locks VALUES (?, ?, ?)", locks)

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        inbound: Sequence[InboundRow] = (),
        agenda: Sequence[tuple[str, date | None]] = (),
        positions: Mapping[Position, int] | None = None,
        brake: BrakeSettlement | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        c.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
        c.execute(_ENGINE_CACHE)
        rows: list[tuple[UUID | str, int, str, bytes]] = [
            (s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events
        ]
        if brake is not None:
            c.execute("UPDATE fengkong_brake SET version = version WHERE id = 1")  # SQLite's write lock, taken now
            write = brake.settle(_LockedBrake(c))
            rows.extend(write.rows)  # documents first; the settled rows are bound as they are, no StoredEvent each
            inbound, agenda = write.inbound, write.agenda
            state = write.state
            c.execute(
                "UPDATE fengkong_brake SET active = ?, version = ?, tripped_since = ?, last_at = ?, last_bound = ? "
                "WHERE id = 1",
                [state.active, state.version, state.tripped_since, state.last_at, state.last_bound],
            )
            c.executemany("INSERT INTO fengkong_brake_locks VALUES (?, ?, ?)", write.emitted)
            upserts, deletes = hold_rows(write.holds)
            c.executemany("DELETE FROM fengkong_holds WHERE account_id = ?", deletes)
            c.executemany(f"INSERT OR REPLACE INTO fengkong_holds ({HOLD_COLUMNS}) VALUES ({_marks(9)})", upserts)
        # One executemany instead of eventsourcing's statement per event. The
        # writer holds SQLite's lock for the transaction, so the new rowids
        # (notification ids) are the contiguous run ending at last_insert_rowid().
        c.executemany(self.insert_events_statement, rows)
        notification_ids: list[int] = []
        if rows:
            c.execute("SELECT last_insert_rowid()")
            last = c.fetchone()[0]
            notification_ids = list(range(last - len(rows) + 1, last + 1))
        c.executemany("INSERT INTO fengkong_inbound VALUES (?, ?)", sorted(inbound))  # key order: fewer pages touched
        due, cleared = agenda_rows(agenda)
        c.executemany(
            "INSERT INTO fengkong_agenda VALUES (?, ?) "
            "ON CONFLICT (account_id) DO UPDATE SET due_date = excluded.due_date",
            due,
        )
        c.executemany("DELETE FROM fengkong_agenda WHERE account_id = ?", cleared)
        c.executemany(
            "INSERT INTO fengkong_positions VALUES (?, ?, ?) ON CONFLICT (source, partition) "
            "DO UPDATE SET next_offset = excluded.next_offset "
            "WHERE excluded.next_offset > fengkong_positions.next_offset",
            [(source, partition, offset) for (source, partition), offset in (positions or {}).items()],
        )
        faults.reached("store.in_transaction", c)
        return notification_ids

    def select_digests(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self.datastore.transaction(commit=False) as c:
            c.execute(_ENGINE_CACHE)  # the pool may hand out another connection than the last write's
            _tuples(c)
            for chunk in _chunks(event_ids):
                c.execute(
                    f"SELECT event_id, digest FROM fengkong_inbound WHERE event_id IN ({','.join('?' * len(chunk))})",
                    list(chunk),
                )
                found.update((row[0], bytes(row[1])) for row in c.fetchall())
        return found

    def select_streams(self, stream_ids: Sequence[str]) -> dict[str, list[bytes]]:
        streams: dict[str, list[bytes]] = {}
        with self.datastore.transaction(commit=False) as c:
            _tuples(c)
            for chunk in _chunks(stream_ids):
                c.execute(
                    f"SELECT originator_id, state FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) ORDER BY originator_id, originator_version",
                    list(chunk),
                )
                for stream, state in c.fetchall():
                    streams.setdefault(stream, []).append(state)
        return streams

    def select_openings(self) -> list[tuple[str, bytes]]:
        """(account id, state) of every account's first stored event: its AccountOpened."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_id, state FROM {self.events_table_name} WHERE originator_version = 1 "
                "AND originator_id NOT LIKE ? ORDER BY originator_id",
                [SYSTEM_STREAMS],
            )
            return [(row[0], bytes(row[1])) for row in c.fetchall()]

    def select_due_accounts(self, business_date: date) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT account_id FROM fengkong_agenda WHERE due_date <= ? ORDER BY account_id",
                [business_date.isoformat()],
            )
            return [row[0] for row in c.fetchall()]

    def select_account_ids(self) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT DISTINCT originator_id FROM {self.events_table_name} WHERE originator_id NOT LIKE ? "
                "ORDER BY 1",
                [SYSTEM_STREAM_PREFIX + "%"],
            )
            return [row[0] for row in c.fetchall()]

    def brake_state(self) -> BrakeState:
        with self.datastore.transaction(commit=False) as c:
            return _LockedBrake(c).brake_state()

    def emitted_between(self, after: int, until: int) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            return _LockedBrake(c).emitted_between(after, until)

    def select_notification_rows(self, start: int, limit: int) -> list[tuple[int, str, str, bytes]]:
        """(notification id, stream id, topic, state) from `start` on, without Notification objects.

        A rebuild reads the whole log: eventsourcing's select_notifications
        builds a dataclass per row, which costs more than the read.
        """
        with self.datastore.transaction(commit=False) as c:
            _tuples(c).execute(
                f"SELECT rowid, originator_id, topic, state FROM {self.events_table_name} "
                "WHERE rowid >= ? ORDER BY rowid LIMIT ?",
                [start, limit],
            )
            return c.fetchall()  # type: ignore[no-any-return]

    def select_positions(self, source: str) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT partition, next_offset FROM fengkong_positions WHERE source = ?", [source])
            return {row[0]: row[1] for row in c.fetchall()}


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class _LockedBrake:
    """The brake's record and emitted locks, read on a cursor (inside the saving transaction, or a read)."""

    def __init__(self, c: SQLiteCursor) -> None:
        self.c = c

    def brake_state(self) -> BrakeState:
        self.c.execute(f"SELECT {BRAKE_COLUMNS} FROM fengkong_brake WHERE id = 1")
        row = self.c.fetchone()
        return BrakeState(*row) if row else BrakeState(0)

    def emitted_between(self, after: int, until: int) -> list[int]:
        self.c.execute(
            "SELECT cause_at FROM fengkong_brake_locks WHERE cause_at > ? AND cause_at <= ? ORDER BY cause_at",
            [after, until],
        )
        return [row[0] for row in self.c.fetchall()]
