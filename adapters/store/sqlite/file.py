"""A SQLite store's file: its page size is chosen when it is made, before WAL mode fixes it for good.

A stored event (a fact with its balances and decisions) is about 450 bytes,
and a table page holds whole rows: at SQLite's default of 4,096 bytes a page
holds 8 and ends in a gap of up to one more, about 7% of the event table.
At 16,384 bytes the gap is shared by 35 rows. Measured on the 1,000,000-event
workload (a VACUUMed copy, `benchmarks/storage.py`): 582 bytes stored per
inbound event at 4,096, 548 at 16,384. The random index pages a batch dirties
are larger too; the 1M ingest's CPU was the same within the noise (3 runs
each, interleaved: 103-125 s at 4,096, 102-128 s at 16,384), and so was the
latency row's (2 runs each). A store made before keeps its page size: SQLite
cannot change it in WAL mode, and nothing needs it to.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

PAGE_SIZE = 16_384


def write_ahead_log(connection: sqlite3.Connection, attempts: int = 100) -> None:
    """WAL mode (a new, empty file gets PAGE_SIZE first). A new file opened by several processes at once may
    refuse the switch (SQLITE_BUSY, no busy handler): try again until one of them made it."""
    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a no-op on a file that has pages already
    for attempt in range(attempts):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def create_store_file(path: Path) -> None:
    """Make the store's file (and its folder) with PAGE_SIZE unless it exists: eventsourcing's connections
    switch to WAL as they open, so a file they create keeps SQLite's default page size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        return
    with closing(sqlite3.connect(path, timeout=60)) as connection:
        write_ahead_log(connection)
