"""The store's errors of availability: it is down, restarting, full or locked, and the code is not wrong.

Whoever meets one waits and tries again (a worker, a relay, a projection follower); any other error is a
defect and is reported with its traceback.
"""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

STORE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,  # PostgreSQL down or restarting, connection terminated, disk full; SQLite full or locked
    InterfaceError,  # a connection that broke under us
    # The same from connections of our own, outside eventsourcing's recorder (read models, the key ring):
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    ConnectionError,
    TimeoutError,
)
