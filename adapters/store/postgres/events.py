"""The event store on PostgreSQL: eventsourcing's recorder, writing the engine's index tables in the same transaction.

The same tables as on SQLite (adapters.store.sqlite.events); inserts are
serialised by eventsourcing's table lock, so notification ids follow commit order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from adapters.runtime import faults
from adapters.store.engine_tables import agenda_rows
from engine.batch import InboundRow, Position
from events.recorded import SYSTEM_STREAMS

_DDL_LOCK = 7466212  # advisory lock key serialising the store's CREATE statements on PostgreSQL


class PostgresEngineRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.inbound_table = self._table("fengkong_inbound")
        self.agenda_table = self._table("fengkong_agenda")
        self.positions_table = self._table("fengkong_positions")
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
        ]

    def close(self) -> None:
        self.datastore.close()

    def _table(self, name: str) -> Any:
        return SQL("{0}.{1}").format(Identifier(self.datastore.schema), Identifier(name))

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # Processes starting together (a worker and the relay) would race on the catalog
        # ("tuple concurrently updated"): one creates the tables at a time, the others find them.
        curs.execute(SQL("SELECT pg_advisory_xact_lock(%s)"), (_DDL_LOCK,))
        super()._create_table(curs)

    def _insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        inbound: Sequence[InboundRow] = (),
        agenda: Sequence[tuple[str, date | None]] = (),
        positions: Mapping[Position, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if inbound:
            curs.executemany(SQL("INSERT INTO {0} VALUES (%s, %s)").format(self.inbound_table), list(inbound))
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
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT originator_id, state FROM {0}.{1} "
                    "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
                ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name)),
                (list(stream_ids),),
            )
            for row in curs.fetchall():
                streams.setdefault(row["originator_id"], []).append(bytes(row["state"]))
        return streams

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_openings(self) -> list[tuple[str, bytes]]:
        """(account id, state) of every account's first stored event: its AccountOpened."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT originator_id, state FROM {0}.{1} WHERE originator_version = 1 "
                    "AND originator_id NOT LIKE %s ORDER BY originator_id"
                ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name)),
                (SYSTEM_STREAMS,),
            )
            return [(row["originator_id"], bytes(row["state"])) for row in curs.fetchall()]

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
                SQL("SELECT DISTINCT originator_id FROM {0}.{1} WHERE originator_id NOT LIKE %s ORDER BY 1").format(
                    Identifier(self.datastore.schema), Identifier(self.events_table_name)
                ),
                (SYSTEM_STREAMS,),
            )
            return [row["originator_id"] for row in curs.fetchall()]

    def select_notification_rows(self, start: int, limit: int) -> list[tuple[int, str, str, bytes]]:
        """(notification id, stream id, topic, state) from `start` on (see the SQLite recorder)."""
        return [(n.id, str(n.originator_id), n.topic, n.state) for n in self.select_notifications(start, limit)]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_positions(self, source: str) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT partition, next_offset FROM {0} WHERE source = %s").format(self.positions_table),
                (source,),
            )
            return {row["partition"]: row["next_offset"] for row in curs.fetchall()}
