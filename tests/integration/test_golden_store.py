"""The golden store: what stored format 1 recorded is read, replayed and audited by every later version.

tests/data/golden/format-1.db was written once by the engine of stored format 1
(tests/data/golden/make_golden.py) and is never rewritten: a change that could no
longer read it, or that would decide differently on it, fails here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import orjson

from adapters.audit.parallel import AuditPool, audit
from adapters.settings import Settings
from events.inbound import load_object
from events.operator import recorded_digest
from events.recorded import decode
from tests.support.wiring import open_engine, runner_at

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


def copy_of_the_golden_store(tmp_path: Path) -> str:
    store = tmp_path / "golden.db"
    shutil.copyfile(GOLDEN / "format-1.db", store)
    return str(store)


def test_every_stored_event_decodes_in_the_current_format(tmp_path: Path) -> None:
    with sqlite3.connect(copy_of_the_golden_store(tmp_path)) as db:
        states = [state for (state,) in db.execute("SELECT state FROM stored_events")]
    assert states
    assert {orjson.loads(state)["v"] for state in states} == {1}
    for state in states:
        decode(state)


def test_every_stored_fact_gives_the_digest_its_inbound_row_keeps(tmp_path: Path) -> None:
    """What reconcile compares: the digest of each fact read back is the one recorded on its way in."""
    with sqlite3.connect(copy_of_the_golden_store(tmp_path)) as db:
        kept = dict(db.execute("SELECT event_id, digest FROM fengkong_inbound"))
        facts = [decode(state)["fact"] for (state,) in db.execute("SELECT state FROM stored_events")]
    found = {fact["event_id"]: recorded_digest(load_object(fact)) for fact in facts}
    assert kept and found == kept


def test_the_golden_store_audits_and_emits_the_same_commands(tmp_path: Path) -> None:
    store = copy_of_the_golden_store(tmp_path)
    expected = json.loads((GOLDEN / "format-1.expected.json").read_text())
    verdicts = list(audit(Settings(store=store), None))
    assert len(verdicts) == expected["accounts"]
    assert all(v.identical for v in verdicts), [v.account_id for v in verdicts if not v.identical][:5]
    commands = [c.model_dump(mode="json") for c in open_engine(store).commands()]
    assert len(commands) == expected["commands"]
    assert hashlib.sha256(orjson.dumps(commands)).hexdigest() == expected["commands_sha256"]


def test_the_golden_store_builds_every_read_model(tmp_path: Path) -> None:
    store = copy_of_the_golden_store(tmp_path)
    runner = runner_at(store)
    try:
        runner.catch_up()
        assert min(runner.positions.values()) == runner.head() > 0
    finally:
        runner.close()


def test_the_golden_store_takes_new_events_after_the_old_ones(tmp_path: Path) -> None:
    store = copy_of_the_golden_store(tmp_path)
    engine = open_engine(store)
    scenario = (GOLDEN.parent / "contract_scenario.jsonl").read_bytes().splitlines()
    assert {r.outcome.value for r in engine.ingest(scenario)} == {"duplicate"}


def test_the_golden_store_audits_the_same_on_two_processes_and_finds_a_tampered_decision(tmp_path: Path) -> None:
    """The pool of `audit --all --jobs N` (one engine per process, accounts in slices) gives the verdicts of one
    process, in order, and still catches a decision altered in the store."""
    store = copy_of_the_golden_store(tmp_path)
    alone = list(audit(Settings(store=store), None))
    with AuditPool(Settings(store=store), jobs=2) as pool:
        pool.start()
        pooled = list(pool.audit(size=7))
    assert [(v.account_id, v.facts, v.identical) for v in pooled] == [(v.account_id, v.facts, True) for v in alone]
    with sqlite3.connect(store) as db:
        rowid, state = db.execute(
            'SELECT rowid, state FROM stored_events WHERE CAST(state AS TEXT) LIKE \'%"rule":"lock.%\' LIMIT 1'
        ).fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state.replace(b'"lock.', b'"lick.'), rowid))
    db.close()
    with AuditPool(Settings(store=store), jobs=2) as pool:
        differing = [v.account_id for v in pool.audit(size=7) if not v.identical]
    assert len(differing) == 1
