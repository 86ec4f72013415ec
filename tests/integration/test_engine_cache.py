"""The aggregate cache and the per-batch preload change speed, never outcomes.

The same portfolio ingested with a cache that holds every account and with one
so small that almost every event loads its account from the store (one query
per batch) must record the same facts, decisions and index rows, in the same
order, and emit the same commands.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import orjson

from adapters.synthetic.portfolio import Portfolio
from tests.support.wiring import open_engine

SEALED = re.compile(r"\\u001fpd1\.[0-9A-Za-z_.-]*\\u001f")
"""A sealed personal value as JSON escapes it."""


def _ingest(path: Path, cache_size: int) -> list[str]:
    engine = open_engine(str(path), cache_size=cache_size)
    outcomes = []
    for day in Portfolio(60, 150, seed=21, noise=True).days_of_events():
        for result in engine.process([orjson.dumps(event) for event in day]):
            outcomes.append(f"{result.event_id}:{result.outcome.value}:{','.join(result.rules)}")
    assert len(engine._accounts) <= cache_size
    engine.close()
    return outcomes


def _recorded(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    events = []
    for originator_id, version, topic, state in db.execute(
        "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
    ):
        body = orjson.loads(state)
        body.pop("at")  # when it was recorded: wall-clock metadata, not part of a decision
        # Personal values are sealed under each store's own random keys: compared as "sealed" only.
        text = SEALED.sub("<sealed>", orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode())
        events.append((originator_id, version, topic, text))
    inbound = db.execute("SELECT event_id FROM fengkong_inbound ORDER BY event_id").fetchall()
    db.close()
    return events, inbound


def test_tiny_cache_records_exactly_what_a_full_cache_records(tmp_path: Path) -> None:
    roomy = _ingest(tmp_path / "roomy.db", cache_size=10_000)
    tiny = _ingest(tmp_path / "tiny.db", cache_size=3)
    assert tiny == roomy
    assert any("lock.overdue" in outcome for outcome in roomy)  # the portfolio reaches the policy's locks
    assert _recorded(tmp_path / "tiny.db") == _recorded(tmp_path / "roomy.db")
