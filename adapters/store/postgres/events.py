"""The event store on PostgreSQL: eventsourcing's recorder, writing the engine's index tables in the same transaction.

The same tables as on SQLite (adapters.store.sqlite.events); inserts are
serialised by eventsourcing's table lock, so notification ids follow commit order.
A batch that judges automatic locks (the emergency brake) first locks the
brake's record (`SELECT ... FOR UPDATE` of `fengkong_brake`'s one row) and
takes its verdicts while holding it; the table lock comes after, in every
transaction in that order, so the two locks never wait on each other in a cycle.
Stored events go both ways in binary: a batch's rows as four arrays, and the
bulk reads (a page of the log, streams, openings) as bytes rather than hex text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow, TupleRow, tuple_row
from psycopg.sql import SQL, Identifier

from adapters.runtime import faults
from adapters.store.engine_tables import BRAKE_COLUMNS, HOLD_COLUMNS, agenda_rows, emitted_locks, hold_rows
from engine.application import BrakeSettlement
from engine.batch import InboundRow, Position
from engine.brake import BrakeState
from events.recorded import SYSTEM_STREAM_PREFIX, SYSTEM_STREAMS

_DDL_LOCK = 7466212  # advisory lock key serialising the store's CREATE statements on PostgreSQL


class PostgresEngineRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.events_table = self._table(self.events_table_name)
        self.inbound_table = self._table("fengkong_inbound")
        self.agenda_table = self._table("fengkong_agenda")
        self.positions_table = self._table("fengkong_positions")
        self.brake_table = self._table("fengkong_brake")
        self.brake_locks_table = self._table("fengkong_brake_locks")
        self.holds_table = self._table("fengkong_holds")
        self.insert_inbound_statement = SQL(
            "INSERT INTO {0} (event_id, digest) SELECT * FROM unnest(%b::text[], %b::bytea[])"
        ).format(self.inbound_table)
        self.insert_columns_statement = SQL(
            "INSERT INTO {0} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{1}[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(self.events_table, Identifier(self.datastore.originator_id_type))
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {0} (event_id text PRIMARY KEY, digest bytea NOT NULL)").format(
                self.inbound_table
            ),
            SQL("CREATE TABLE IF NOT EXISTS {0} (account_id text PRIMARY KEY, due_date date NOT NULL)").format(
                self.agenda_table
            ),
            SQL("CREATE INDEX IF NOT EXISTS fengkong_agenda_due ON {0} (due_date)").format(self.agenda_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (source text NOT NULL, partition integer NOT NULL, "
                "next_offset bigint NOT NULL, PRIMARY KEY (source, partition))"
            ).format(self.positions_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (id integer PRIMARY KEY, active bigint NOT NULL, "
                "version bigint NOT NULL, tripped_since bigint, last_at bigint, last_bound bigint)"
            ).format(self.brake_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (cause_at bigint NOT NULL, account_id text NOT NULL, "
                "event_id text NOT NULL, PRIMARY KEY (cause_at, account_id, event_id))"
            ).format(self.brake_locks_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (account_id text PRIMARY KEY, hold_id text NOT NULL UNIQUE, "
                "rule text NOT NULL, cause_event_id text NOT NULL, cause_at bigint NOT NULL, "
                "held_count bigint NOT NULL, active bigint NOT NULL, bound bigint NOT NULL, commands text NOT NULL)"
            ).format(self.holds_table),
        ]

    def close(self) -> None:
        self.datastore.close()

    def _table(self, name: str) -> Any:
        return SQL("{0}.{1}").format(Identifier(self.datastore.schema), Identifier(name))

    def create_table(self) -> None:
        """Create the store one process at a time: the others wait, then find it there.

        Processes starting together on a fresh database (the workers and the relay of a new deployment) would
        race on the catalog: "tuple concurrently updated" on the tables, and "duplicate key" or "relation
        already exists" on eventsourcing's composite type, which it creates in a transaction of its own and
        forgives only "type already exists". So the whole creation, the type's transaction and the tables',
        runs under one session-level advisory lock held on a connection of its own.
        """
        with self.datastore.get_connection() as lock:
            lock.execute(SQL("SELECT pg_advisory_lock(%s)"), (_DDL_LOCK,))
            try:
                super().create_table()
            finally:
                lock.execute(SQL("SELECT pg_advisory_unlock(%s)"), (_DDL_LOCK,))

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        super()._create_table(curs)
        # A plain read first: inserting into a record a worker holds FOR UPDATE would wait for it while
        # holding the catalog locks of the statements above, which that worker's insert waits for.
        curs.execute(SQL("SELECT id FROM {0} WHERE id = 1").format(self.brake_table))
        if curs.fetchone() is not None:
            return
        curs.execute(
            SQL("INSERT INTO {0} (id, active, version) VALUES (1, 0, 0) ON CONFLICT DO NOTHING RETURNING id").format(
                self.brake_table
            )
        )
        if curs.fetchone() is not None:  # the brake's record is new: count what a store recorded before it holds
            system = SYSTEM_STREAM_PREFIX + "%"
            curs.execute(
                SQL("SELECT count(DISTINCT originator_id) AS n FROM {0} WHERE originator_id NOT LIKE %s").format(
                    self.events_table
                ),
                (system,),
            )
            row = curs.fetchone()
            assert row is not None
            curs.execute(SQL("UPDATE {0} SET active = %s WHERE id = 1").format(self.brake_table), (row["n"],))
            curs.execute(
                SQL(
                    "SELECT originator_id, state FROM {0} WHERE originator_id NOT LIKE %s "
                    "AND position(%s::bytea in state) > 0"
                ).format(self.events_table),
                (system, b"LockCard"),
            )
            locks = emitted_locks((r["originator_id"], bytes(r["state"])) for r in curs.fetchall())
            if locks:
                curs.executemany(
                    SQL("INSERT INTO {0} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING").format(self.brake_locks_table),
                    locks,
                )

    def _insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        inbound: Sequence[InboundRow] = (),
        agenda: Sequence[tuple[str, date | None]] = (),
        positions: Mapping[Position, int] | None = None,
        brake: BrakeSettlement | None = None,
        **kwargs: Any,
    ) -> None:
        if brake is not None:
            write = brake.settle(_LockedBrake(curs, self.brake_table, self.brake_locks_table, lock=True))
            # insert_events inserts the list it passed here, after this: the settled events replace its contents
            assert isinstance(stored_events, list)
            stored_events[:] = [*stored_events, *(StoredEvent(*row) for row in write.rows)]  # documents first
            inbound, agenda = write.inbound, write.agenda
            self._write_brake(curs, write.state, write.emitted, write.holds)
        super()._insert_events(curs, stored_events, **kwargs)
        if inbound:
            event_ids, digests = ([row[0] for row in inbound], [row[1] for row in inbound])
            curs.execute(self.insert_inbound_statement, (event_ids, digests))
        due, cleared = agenda_rows(agenda)
        if due:
            curs.executemany(
                SQL(
                    "INSERT INTO {0} VALUES (%s, %s) "
                    "ON CONFLICT (account_id) DO UPDATE SET due_date = excluded.due_date"
                ).format(self.agenda_table),
                due,
            )
        if cleared:
            curs.executemany(SQL("DELETE FROM {0} WHERE account_id = %s").format(self.agenda_table), cleared)
        if positions:
            curs.executemany(
                SQL(
                    "INSERT INTO {0} AS p VALUES (%s, %s, %s) ON CONFLICT (source, partition) "
                    "DO UPDATE SET next_offset = excluded.next_offset WHERE excluded.next_offset > p.next_offset"
                ).format(self.positions_table),
                [(source, partition, offset) for (source, partition), offset in positions.items()],
            )
        faults.reached("store.in_transaction", curs)

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any) -> None:
        """eventsourcing's insert under its table lock, the rows sent as four arrays in binary.

        eventsourcing sends one array of a composite type, which psycopg writes
        as text: every state's bytes in hex, encoded in Python and decoded by
        the server while the batch holds the lock. Four arrays bound with `%b`
        go as binary; the inbound rows' digests go the same way. The lock hold
        `python -m benchmarks --row postgres.engine` prints fell to about a third
        (docs/scale.md, "Since that run"). The parent's lock and notify are kept,
        in its order, so benchmarks/pglock.py times the same lock.
        """
        columns = (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        )
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_columns_statement, columns)

    def _write_brake(self, curs: Cursor[DictRow], state: BrakeState, emitted: Any, holds: Any) -> None:
        curs.execute(
            SQL(
                "UPDATE {0} SET active = %s, version = %s, tripped_since = %s, last_at = %s, last_bound = %s "
                "WHERE id = 1"
            ).format(self.brake_table),
            (state.active, state.version, state.tripped_since, state.last_at, state.last_bound),
        )
        if emitted:
            curs.executemany(SQL("INSERT INTO {0} VALUES (%s, %s, %s)").format(self.brake_locks_table), emitted)
        upserts, deletes = hold_rows(holds)
        if deletes:
            curs.executemany(SQL("DELETE FROM {0} WHERE account_id = %s").format(self.holds_table), deletes)
        if upserts:
            columns = SQL(HOLD_COLUMNS)
            curs.executemany(
                SQL(
                    "INSERT INTO {0} ({1}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account_id) DO "
                    "UPDATE SET hold_id = excluded.hold_id, rule = excluded.rule, "
                    "cause_event_id = excluded.cause_event_id, cause_at = excluded.cause_at, "
                    "held_count = excluded.held_count, active = excluded.active, bound = excluded.bound, "
                    "commands = excluded.commands"
                ).format(self.holds_table, columns),
                upserts,
            )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def brake_state(self) -> BrakeState:
        with self.datastore.transaction(commit=False) as curs:
            return _LockedBrake(curs, self.brake_table, self.brake_locks_table).brake_state()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def emitted_between(self, after: int, until: int) -> list[int]:
        with self.datastore.transaction(commit=False) as curs:
            return _LockedBrake(curs, self.brake_table, self.brake_locks_table).emitted_between(after, until)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_digests(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        if not event_ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT event_id, digest FROM {0} WHERE event_id = ANY(%s)").format(self.inbound_table),
                (list(event_ids),),
            )
            return {row["event_id"]: bytes(row["digest"]) for row in curs.fetchall()}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_streams(self, stream_ids: Sequence[str]) -> dict[str, list[bytes]]:
        streams: dict[str, list[bytes]] = {}
        if not stream_ids:
            return streams
        rows = self._bulk_read(
            "SELECT originator_id, state FROM {0} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version",
            (list(stream_ids),),
        )
        for stream_id, state in rows:
            streams.setdefault(stream_id, []).append(state)
        return streams

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_openings(self) -> list[tuple[str, bytes]]:
        """(account id, state) of every account's first stored event: its AccountOpened."""
        return self._bulk_read(
            "SELECT originator_id, state FROM {0} WHERE originator_version = 1 "
            "AND originator_id NOT LIKE %s ORDER BY originator_id",
            (SYSTEM_STREAMS,),
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_due_accounts(self, business_date: date) -> list[str]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT account_id FROM {0} WHERE due_date <= %s ORDER BY account_id").format(self.agenda_table),
                (business_date,),
            )
            return [row["account_id"] for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_account_ids(self) -> list[str]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT DISTINCT originator_id FROM {0} WHERE originator_id NOT LIKE %s ORDER BY 1").format(
                    self.events_table
                ),
                (SYSTEM_STREAM_PREFIX + "%",),
            )
            return [row["originator_id"] for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notification_rows(self, start: int, limit: int) -> list[tuple[int, str, str, bytes]]:
        """(notification id, stream id, topic, state) from `start` on (see the SQLite recorder), as tuples."""
        return self._bulk_read(
            "SELECT notification_id, originator_id, topic, state FROM {0} "
            "WHERE notification_id >= %s ORDER BY notification_id LIMIT %s",
            (start, limit),
        )

    def _bulk_read(self, query: str, params: tuple[Any, ...]) -> list[TupleRow]:
        """The rows of a query over the events table ({0}), fetched in binary as tuples.

        States come back as bytes, not hex text the server encodes and psycopg decodes, and no dict is built per
        row (eventsourcing's cursors make one): the whole log goes through here in a rebuild or an audit.
        """
        with self.datastore.transaction(commit=False) as curs, curs.connection.cursor(row_factory=tuple_row) as rows:
            rows.execute(SQL(query).format(self.events_table), params, binary=True)
            return rows.fetchall()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_positions(self, source: str) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT partition, next_offset FROM {0} WHERE source = %s").format(self.positions_table),
                (source,),
            )
            return {row["partition"]: row["next_offset"] for row in curs.fetchall()}


class _LockedBrake:
    """The brake's record and emitted locks, read on a cursor; with `lock`, the record is locked FOR UPDATE."""

    def __init__(self, curs: Cursor[DictRow], brake: Any, locks: Any, *, lock: bool = False) -> None:
        self.curs, self.brake, self.locks, self.lock = curs, brake, locks, lock

    def brake_state(self) -> BrakeState:
        query = SQL("SELECT " + BRAKE_COLUMNS + " FROM {0} WHERE id = 1").format(self.brake)
        if self.lock:
            query += SQL(" FOR UPDATE")
        self.curs.execute(query)
        row = self.curs.fetchone()
        if row is None:
            return BrakeState(0)
        return BrakeState(row["active"], row["version"], row["tripped_since"], row["last_at"], row["last_bound"])

    def emitted_between(self, after: int, until: int) -> list[int]:
        self.curs.execute(
            SQL("SELECT cause_at FROM {0} WHERE cause_at > %s AND cause_at <= %s ORDER BY cause_at").format(self.locks),
            (after, until),
        )
        return [row["cause_at"] for row in self.curs.fetchall()]
