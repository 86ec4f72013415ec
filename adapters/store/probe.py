"""What a store URL names, looked at without creating anything.

Read-only commands must not create a store where an operator mistyped a
path, and writers must not write fengkong's tables into another program's
SQLite file; both ask `probe` first. A SQLite file is opened read-only
(`mode=ro`), a PostgreSQL database with one short connection.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlparse

from adapters.store.urls import is_postgres, postgres_conninfo, postgres_options, sqlite_path

MARK_TABLE = "fengkong_inbound"
"""A table only a fengkong store has (the engine's deduplication index)."""
MARK_TABLES = frozenset({MARK_TABLE, "fengkong_keys"})
"""Tables only fengkong makes: a store whose first act was `fengkong keys create` (an admin key before any
event, as docker compose's keys-init and the policy and calendar commands need) has the keys' table alone."""


class Found(StrEnum):
    NOTHING = "nothing"  # no file, or no database of that name
    EMPTY = "empty"  # a database without tables: a store may be created in it
    STORE = "store"  # a fengkong store
    FOREIGN = "foreign"  # another program's database, or not a database at all


@dataclass(frozen=True)
class Probe:
    found: Found
    why: str = ""  # for FOREIGN: what is there instead


class Unreachable(Exception):
    """The database server could not be reached or refused the login (the message never holds the password)."""


def probe(url: str) -> Probe:
    return _probe_postgres(url) if is_postgres(url) else _probe_sqlite(url)


def _probe_sqlite(url: str) -> Probe:
    path = sqlite_path(url)
    if not path.exists():
        return Probe(Found.NOTHING)
    if path.is_dir():
        return Probe(Found.FOREIGN, "a directory, not a file")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            return Probe(Found.FOREIGN, "not an SQLite database")
        raise
    if names & MARK_TABLES:
        return Probe(Found.STORE)
    return Probe(Found.FOREIGN, "an SQLite database of another program") if names else Probe(Found.EMPTY)


def _probe_postgres(url: str) -> Probe:
    import psycopg  # noqa: PLC0415 (loaded only for a PostgreSQL store: adapters.store.availability)
    from psycopg import sql as pgsql  # noqa: PLC0415

    options = postgres_options(url)
    schema = options.get("schema", "public")
    try:
        connection = psycopg.connect(
            postgres_conninfo(url), connect_timeout=int(options.get("connect_timeout", "10")), autocommit=True
        )
    except psycopg.OperationalError as error:
        if "does not exist" in str(error) and "database" in str(error):
            return Probe(Found.NOTHING)
        raise Unreachable(_first_line(error, url)) from None
    with connection:
        tables = connection.execute(
            pgsql.SQL("SELECT table_name FROM information_schema.tables WHERE table_schema = {0}").format(
                pgsql.Literal(schema)
            )
        ).fetchall()
    names = {row[0] for row in tables}
    if names & MARK_TABLES:
        return Probe(Found.STORE)
    return Probe(Found.EMPTY) if not names else Probe(Found.FOREIGN, f"tables of another program in schema {schema}")


def _first_line(error: Exception, url: str) -> str:
    """libpq's reason, first line (host, port, what failed), with the URL's password hidden should it ever appear."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    password = urlparse(url).password
    if password:
        text = text.replace(password, "***").replace(unquote(password), "***")
    return text
