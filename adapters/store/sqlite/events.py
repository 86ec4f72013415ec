"""Event store wiring: SQLite embedded by default, PostgreSQL by URL.

Both recorders extend eventsourcing's application recorders so that one
transaction writes a batch's events together with the engine's own index
tables: `fengkong_inbound` (event_id -> payload digest, for deduplication),
`fengkong_agenda` (accounts waiting for a business date) and
`fengkong_positions` (the next source offset per partition, for Kafka).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import orjson
from eventsourcing.persistence import InterfaceError, JSONTranscoder, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from eventsourcing.utils import get_topic, retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from adapters.runtime import faults
from engine.application import InboundRow, Position

DEFAULT_STORE = "fengkong.db"
STORE_ENV = "FENGKONG_STORE"
_CHUNK = 500
_DDL_LOCK = 7466212  # advisory lock key serialising the store's CREATE statements on PostgreSQL


def store_url(explicit: str | None = None) -> str:
    """The store named on the command line, else $FENGKONG_STORE, else ./fengkong.db."""
    return explicit or os.environ.get(STORE_ENV) or DEFAULT_STORE


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.removeprefix("sqlite:"))


def engine_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for a store URL (a path means SQLite)."""
    if not is_postgres(url):
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteEngineRecorder),
            "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
        }
    parts = urlparse(url)
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": options.get("connect_timeout", "10"),
        "POSTGRES_POOL_SIZE": options.get("pool_size", "4"),
        "APPLICATION_RECORDER_TOPIC": get_topic(PostgresEngineRecorder),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
    }
    if "schema" in options:
        env["POSTGRES_SCHEMA"] = options["schema"]
    return env


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSONTranscoder, byte for byte, written and read with orjson.

    The stored state stays the JSON that JSONTranscoder writes (compact, UTF-8,
    `{"_type_": name, "_data_": value}` for datetimes, decimals and UUIDs), so
    any reader with a JSONTranscoder decodes it. orjson writes JSON types
    itself and hands every datetime, date, time and dataclass to the registered
    transcodings. It would write a UUID or an enum as a plain value instead,
    so an event with such a top-level attribute, or anything orjson refuses,
    goes through the standard encoder; the engine's own events hold only JSON
    types below their top level.
    """

    _OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and _native_values(obj):
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=self._OPTIONS)
            except orjson.JSONEncodeError:
                pass  # e.g. an integer beyond 64 bits: the standard encoder has the last word
        return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        # `"_type_"` with its quotes occurs in the text once per object that
        # carries the key (inside a string the quotes would be escaped), so an
        # event whose only such object is a top-level value needs no full walk.
        marks = data.count(b'"_type_"')
        if marks == 0:
            return value
        if marks == 1 and type(value) is dict:
            for key, item in value.items():
                if _flat_transcoded(item):
                    value[key] = self._decode_obj(item)
                    return value
        return self._revive(value)

    def _revive(self, value: Any) -> Any:
        """What JSONTranscoder's object hook does, innermost objects first."""
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._decode_obj(value)
            return value
        if type(value) is list:
            return [self._revive(item) if type(item) is dict or type(item) is list else item for item in value]
        return value


def _flat_transcoded(item: Any) -> bool:
    """A `{"_type_", "_data_"}` object whose data holds no objects or arrays."""
    return (
        type(item) is dict and len(item) == 2 and "_type_" in item and type(item.get("_data_", {})) not in (dict, list)
    )


def _native_values(obj: dict[str, Any]) -> bool:
    """No top-level UUID or enum, which orjson would write in its own way."""
    for value in obj.values():
        kind = type(value)
        if kind not in _NATIVE and (kind is UUID or isinstance(value, Enum)):
            return False
    return True


_NATIVE = frozenset((str, dict, int, bool, type(None), list, datetime, float, Decimal))


def redact(url: str) -> str:
    """The store URL with any password hidden, for logs and messages."""
    parts = urlparse(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _agenda_rows(agenda: Sequence[tuple[str, date | None]]) -> tuple[list[tuple[str, str]], list[tuple[str]]]:
    due = [(account_id, day.isoformat()) for account_id, day in agenda if day is not None]
    cleared = [(account_id,) for account_id, day in agenda if day is None]
    return due, cleared


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class SQLiteEngineRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS fengkong_inbound (event_id TEXT PRIMARY KEY, "
            "digest TEXT NOT NULL, account_id TEXT, type TEXT NOT NULL) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS fengkong_agenda (account_id TEXT PRIMARY KEY, "
            "due_date TEXT NOT NULL) WITHOUT ROWID",
            "CREATE INDEX IF NOT EXISTS fengkong_agenda_due ON fengkong_agenda (due_date)",
            "CREATE TABLE IF NOT EXISTS fengkong_positions (source TEXT NOT NULL, "
            "partition INTEGER NOT NULL, next_offset INTEGER NOT NULL, "
            "PRIMARY KEY (source, partition)) WITHOUT ROWID",
        ]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        inbound: Sequence[InboundRow] = (),
        agenda: Sequence[tuple[str, date | None]] = (),
        positions: Mapping[Position, int] | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # One executemany instead of eventsourcing's statement per event. The
        # writer holds SQLite's lock for the transaction, so the new rowids
        # (notification ids) are the contiguous run ending at last_insert_rowid().
        c.executemany(
            self.insert_events_statement,
            [
                (
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    s.state,
                )
                for s in stored_events
            ],
        )
        notification_ids: list[int] = []
        if stored_events:
            c.execute("SELECT last_insert_rowid()")
            last = c.fetchone()[0]
            notification_ids = list(range(last - len(stored_events) + 1, last + 1))
        c.executemany(  # in key order: neighbouring inserts land on the same B-tree pages
            "INSERT INTO fengkong_inbound VALUES (?, ?, ?, ?)",
            sorted((r.event_id, r.digest, r.account_id, r.type) for r in inbound),
        )
        due, cleared = _agenda_rows(agenda)
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

    def select_digests(self, event_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(event_ids):
                c.execute(
                    f"SELECT event_id, digest FROM fengkong_inbound WHERE event_id IN ({','.join('?' * len(chunk))})",
                    list(chunk),
                )
                found.update((row[0], row[1]) for row in c.fetchall())
        return found

    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        streams: dict[UUID, list[StoredEvent]] = {}
        hexes = [originator_id.hex for originator_id in originator_ids]
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(hexes):
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) ORDER BY originator_id, originator_version",
                    list(chunk),
                )
                stream: list[StoredEvent] = []
                last, originator_id = None, UUID(int=0)
                for row in c.fetchall():
                    if row[0] != last:  # rows come grouped by originator: one UUID per stream
                        last, originator_id, stream = row[0], UUID(row[0]), []
                        streams[originator_id] = stream
                    stream.append(StoredEvent(originator_id, row[1], row[2], row[3]))
        return streams

    def select_due_accounts(self, business_date: date) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT account_id FROM fengkong_agenda WHERE due_date <= ? ORDER BY account_id",
                [business_date.isoformat()],
            )
            return [row[0] for row in c.fetchall()]

    def select_account_ids(self) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT DISTINCT account_id FROM fengkong_inbound WHERE account_id IS NOT NULL ORDER BY 1")
            return [row[0] for row in c.fetchall()]

    def select_notification_rows(self, start: int, limit: int) -> list[tuple[int, str, str, bytes]]:
        """(notification id, originator id as hex, topic, state) from `start` on, without Notification objects.

        A rebuild reads the whole log: eventsourcing's select_notifications
        builds a UUID and a dataclass per row, which costs more than the read.
        """
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_id, topic, state FROM {self.events_table_name} "
                "WHERE rowid >= ? ORDER BY rowid LIMIT ?",
                [start, limit],
            )
            return [(row[0], row[1], row[2], row[3]) for row in c.fetchall()]

    def select_positions(self, source: str) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT partition, next_offset FROM fengkong_positions WHERE source = ?", [source])
            return {row[0]: row[1] for row in c.fetchall()}


class PostgresEngineRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.inbound_table = self._table("fengkong_inbound")
        self.agenda_table = self._table("fengkong_agenda")
        self.positions_table = self._table("fengkong_positions")
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (event_id text PRIMARY KEY, digest text NOT NULL, "
                "account_id text, type text NOT NULL)"
            ).format(self.inbound_table),
            SQL("CREATE TABLE IF NOT EXISTS {0} (account_id text PRIMARY KEY, due_date date NOT NULL)").format(
                self.agenda_table
            ),
            SQL("CREATE INDEX IF NOT EXISTS fengkong_agenda_due ON {0} (due_date)").format(self.agenda_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (source text NOT NULL, partition integer NOT NULL, "
                "next_offset bigint NOT NULL, PRIMARY KEY (source, partition))"
            ).format(self.positions_table),
        ]

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
            curs.executemany(
                SQL("INSERT INTO {0} VALUES (%s, %s, %s, %s)").format(self.inbound_table),
                [(r.event_id, r.digest, r.account_id, r.type) for r in inbound],
            )
        due, cleared = _agenda_rows(agenda)
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
    def select_digests(self, event_ids: Sequence[str]) -> dict[str, str]:
        if not event_ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT event_id, digest FROM {0} WHERE event_id = ANY(%s)").format(self.inbound_table),
                (list(event_ids),),
            )
            return {row["event_id"]: row["digest"] for row in curs.fetchall()}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        streams: dict[UUID, list[StoredEvent]] = {}
        if not originator_ids:
            return streams
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
                    "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
                ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name)),
                (list(originator_ids),),
            )
            for row in curs.fetchall():
                originator_id = row["originator_id"]
                streams.setdefault(originator_id, []).append(
                    StoredEvent(originator_id, row["originator_version"], row["topic"], bytes(row["state"]))
                )
        return streams

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
                SQL("SELECT DISTINCT account_id FROM {0} WHERE account_id IS NOT NULL ORDER BY 1").format(
                    self.inbound_table
                )
            )
            return [row["account_id"] for row in curs.fetchall()]

    def select_notification_rows(self, start: int, limit: int) -> list[tuple[int, str, str, bytes]]:
        """(notification id, originator id as hex, topic, state) from `start` on (see the SQLite recorder)."""
        return [
            (n.id, n.originator_id.hex if isinstance(n.originator_id, UUID) else str(n.originator_id), n.topic, n.state)
            for n in self.select_notifications(start, limit)
        ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_positions(self, source: str) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT partition, next_offset FROM {0} WHERE source = %s").format(self.positions_table),
                (source,),
            )
            return {row["partition"]: row["next_offset"] for row in curs.fetchall()}
