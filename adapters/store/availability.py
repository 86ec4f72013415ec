"""The store's errors of availability: it is down, restarting, full or locked, and the code is not wrong.

Whoever meets one waits and tries again (a worker, a relay, a projection follower); any other error is a
defect and is reported with its traceback.

psycopg's own classes are asked for only once a process has loaded psycopg: only then can one of its errors
have been raised, and importing it for every command (a SQLite store never needs it) cost each one about a
fifth of its start-up (docs/architecture.md, "A new command"). So the tuples are functions, asked at the
moment an error is caught.
"""

from __future__ import annotations

import sqlite3
import sys

from eventsourcing.persistence import InterfaceError, OperationalError

_ALWAYS: tuple[type[BaseException], ...] = (
    OperationalError,  # PostgreSQL down or restarting, connection terminated, disk full; SQLite full or locked
    InterfaceError,  # a connection that broke under us
    sqlite3.OperationalError,
    ConnectionError,
    TimeoutError,
)


def connection_lost() -> tuple[type[BaseException], ...]:
    """psycopg's errors of a connection that failed or broke, from our own connections outside eventsourcing's
    recorder (read models, the key ring); none while psycopg is not loaded."""
    psycopg = sys.modules.get("psycopg")
    return () if psycopg is None else (psycopg.OperationalError, psycopg.InterfaceError)


def store_unavailable() -> tuple[type[BaseException], ...]:
    """Every error that says the store is unavailable rather than the code wrong."""
    return (*_ALWAYS, *connection_lost())


def is_unavailable(error: BaseException) -> bool:
    return isinstance(error, store_unavailable())
