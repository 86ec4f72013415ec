"""A new SQLite store gets its page size when it is made, whoever opens it first; an old one keeps its own."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from adapters.store.backends import open_projection_database, open_recorder
from adapters.store.sqlite.file import PAGE_SIZE
from tests.support.wiring import open_engine


def _page_size(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


def _journal_mode(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.mark.parametrize("first", ["engine", "recorder", "projections"])
def test_a_new_store_has_the_page_size_whoever_opens_it_first(tmp_path: Path, first: str) -> None:
    path = tmp_path / "new" / "store.db"
    if first == "engine":
        open_engine(str(path)).close()
    elif first == "recorder":
        open_recorder(str(path)).close()
    else:
        open_projection_database(str(path)).close()
    assert PAGE_SIZE != 4096  # SQLite's default: the test would prove nothing
    assert _page_size(path) == PAGE_SIZE
    assert _journal_mode(path) == "wal"


def test_a_store_made_before_keeps_its_page_size_and_its_events(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA page_size = 4096")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE before (x)")
    engine = open_engine(str(path))
    results = list(engine.ingest([b'{"not": "an event"}']))
    engine.close()
    assert len(results) == 1
    assert _page_size(path) == 4096
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM before").fetchone() == (0,)
