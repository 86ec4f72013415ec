"""`fengkong reconcile` as a command: a clean store passes, a damaged one fails with the gap named."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import orjson
from click.testing import CliRunner

from adapters.cli import cli
from adapters.synthetic.portfolio import Portfolio
from tests.data.golden.make_golden import SCENARIO
from tests.kafka.support import FENGKONG
from tests.reliability.support import reconcile


def ingested(tmp_path: Path) -> tuple[str, Path, Path]:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in Portfolio(30, 40, seed=4, noise=True).events()))
    store, letters = str(tmp_path / "store.db"), tmp_path / "store.dead-letter.jsonl"
    done = CliRunner().invoke(cli, ["ingest", str(source), "--store", store])
    assert done.exit_code == 0, done.output
    assert letters.exists(), "the noisy portfolio has broken lines"
    return store, source, letters


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FENGKONG, "reconcile", *args], capture_output=True, text=True, check=False, timeout=120)


def test_a_clean_ingest_reconciles_and_the_report_says_so(tmp_path: Path) -> None:
    store, source, _ = ingested(tmp_path)
    done = run("--input", str(source), "--store", store)  # dead letters found beside the store
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: nothing lost, nothing applied twice" in done.stdout
    assert "note: commands topic not checked" in done.stdout


def test_a_lost_dead_letter_and_a_lost_event_each_fail_reconcile(tmp_path: Path) -> None:
    store, source, letters = ingested(tmp_path)
    kept = letters.read_bytes().splitlines()[1:]
    letters.write_bytes(b"".join(line + b"\n" for line in kept))
    with sqlite3.connect(store) as conn:
        (lost,) = conn.execute(
            "SELECT event_id FROM fengkong_inbound WHERE event_id IN "
            "(SELECT json_extract(state, '$.fact.event_id') FROM stored_events "
            "WHERE json_extract(state, '$.fact.type') = 'BillIssued') LIMIT 1"
        ).fetchone()
        conn.execute("DELETE FROM fengkong_inbound WHERE event_id = ?", [lost])
    done = run("--input", str(source), "--store", store)
    assert done.returncode == 1
    assert "GAP missing_dead_letter: 1" in done.stdout
    assert "GAP unindexed_fact: 1" in done.stdout, "the fact is on its stream, its index row is gone"
    report = reconcile(store, "--input", str(source), expect_ok=False)
    assert set(report["gaps"]) == {"missing_dead_letter", "missing_event", "unindexed_fact"}
    assert report["gaps"]["missing_event"]["items"][0]["detail"].startswith(f"event_id {lost} ")


def test_reconcile_needs_to_be_told_what_came_in(tmp_path: Path) -> None:
    done = run("--store", str(tmp_path / "nothing.db"))
    assert done.returncode == 2
    assert "--input FILE" in done.stderr


def test_a_store_recorded_before_sealing_reconciles_its_plain_personal_values(tmp_path: Path) -> None:
    """The golden store of format 1 holds customer ids, card refs and free text as they came: reconcile
    compares them plain, even once their customer has a key (a new account of theirs, sealed)."""
    store = tmp_path / "golden.db"
    shutil.copyfile(SCENARIO.parent / "golden" / "format-1.db", store)
    opening = orjson.loads(SCENARIO.read_bytes().splitlines()[0])
    assert opening["type"] == "AccountOpened"
    (tmp_path / "new.jsonl").write_bytes(orjson.dumps({**opening, "event_id": "new-1", "account_id": "NEW1"}))
    done = CliRunner().invoke(cli, ["ingest", str(tmp_path / "new.jsonl"), "--store", str(store)])
    assert done.exit_code == 0, done.output
    flags = ["--input", str(SCENARIO), "--partial", "--no-projections", "--json"]
    report = reconcile(str(store), *flags)  # its synthetic portfolio (and its dead letters) left out
    assert report["counts"]["recorded"] == len(SCENARIO.read_bytes().splitlines())
    assert "recorded_forgotten" not in report["counts"]
