"""A bounded pool of read-model connections for the API, that lets idle ones go.

Why not psycopg_pool: the API reads through `ProjectionDatabase` (one wrapper
over sqlite3 or psycopg, with the dialect's codecs), and a pool of those
covers both databases with the same ~60 lines; psycopg_pool would pool only
PostgreSQL's raw connections and leave SQLite to another path. The bounds
are what matters: at most `size` connections at once (a request waits up to
`wait_s` for one, then is answered 503), and a connection idle for longer
than `idle_s` is closed when the pool is next touched, so a quiet API holds
nothing open on the database server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from adapters.store.tables import ProjectionDatabase

SIZE = 8
IDLE_S = 60.0
WAIT_S = 10.0


class PoolExhausted(Exception):
    """No connection became free within the wait."""


class ConnectionPool:
    def __init__(
        self,
        connect: Callable[[], ProjectionDatabase],
        size: int = SIZE,
        idle_s: float = IDLE_S,
        wait_s: float = WAIT_S,
    ) -> None:
        self.connect = connect
        self.size = size
        self.idle_s = idle_s
        self.wait_s = wait_s
        self._idle: list[tuple[float, ProjectionDatabase]] = []  # (returned at, connection), oldest first
        self._open = 0  # idle + lent
        self._changed = threading.Condition()

    @property
    def open_connections(self) -> int:
        return self._open

    @contextmanager
    def connection(self, keep: Callable[[BaseException], bool] = lambda _: False) -> Iterator[ProjectionDatabase]:
        """Lend a connection; after an error it is closed instead of going back, unless `keep(error)`."""
        db = self._acquire()
        try:
            yield db
        except BaseException as error:
            if keep(error):
                self._release(db)
            else:
                self._discard(db)
            raise
        self._release(db)

    def _acquire(self) -> ProjectionDatabase:
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            self._reap()
            while not self._idle and self._open >= self.size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolExhausted(f"all {self.size} database connections busy for {self.wait_s:.0f}s")
                self._changed.wait(left)
            if self._idle:
                return self._idle.pop()[1]  # the most recently used: the others may go idle for good
            self._open += 1
        try:
            return self.connect()
        except BaseException:
            with self._changed:
                self._open -= 1
                self._changed.notify()
            raise

    def _release(self, db: ProjectionDatabase) -> None:
        with self._changed:
            self._idle.append((time.monotonic(), db))
            self._reap()
            self._changed.notify()

    def _discard(self, db: ProjectionDatabase) -> None:
        db.close()
        with self._changed:
            self._open -= 1
            self._changed.notify()

    def _reap(self) -> None:
        """Close connections idle for longer than `idle_s` (called holding the lock)."""
        cutoff = time.monotonic() - self.idle_s
        while self._idle and self._idle[0][0] < cutoff:
            self._idle.pop(0)[1].close()
            self._open -= 1

    def close(self) -> None:
        with self._changed:
            for _, db in self._idle:
                db.close()
            self._open -= len(self._idle)
            self._idle.clear()
