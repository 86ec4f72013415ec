"""Copying the write-ahead log back into the SQLite database beside the writer, not inside its commits.

In WAL mode every commit appends the pages it changed to the WAL, and a
checkpoint copies them back into the database file. SQLite runs that
checkpoint inside the commit that crosses `wal_autocheckpoint`, so the
writer waits for it; and the larger the store, the more random index pages a
batch dirties, the longer the copy (it is most of what grows with the store).
`Checkpointer` runs PASSIVE checkpoints on a connection of its own, in a
thread, every few thousand stored events: SQLite releases the GIL while it
copies, so the copy overlaps the engine preparing its next batches (on
another core when there is one). PASSIVE never blocks the writer or readers; the writer's own
autocheckpoint stays as the backstop should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)
IDLE_S = 30.0  # no commit for this long: the thread ends (the next commit starts another)


class Checkpointer(threading.Thread):
    """A daemon thread that checkpoints the WAL of the database at `path` each time it is kicked (until idle)."""

    def __init__(self, path: str) -> None:
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self.path = path
        self._kicked = threading.Event()
        self._stopping = threading.Event()

    def kick(self) -> None:
        """A commit happened: copy what the WAL holds (at once if idle, else right after the current copy)."""
        self._kicked.set()

    def stop(self) -> None:
        self._stopping.set()
        self._kicked.set()
        self.join(timeout=30)

    def run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            while True:
                if not self._kicked.wait(IDLE_S):
                    return
                self._kicked.clear()
                if self._stopping.is_set():
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # the writer's autocheckpoint still runs: log and carry on
                    log.warning("background WAL checkpoint failed: %s", error)
        finally:
            db.close()
