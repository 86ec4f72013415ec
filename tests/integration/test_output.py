"""What people read: times in the account's zone with their offset, results on stdout, tables not cut when piped,
exports safe to open in a spreadsheet, an oversized line refused unread. The real `fengkong` process, piped."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.builders import Events
from tests.integration.test_operator_mistakes import run
from tests.support.wiring import api_at, key_at

BARE_TIME = re.compile(r"(?<![+\-\d:])\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?![\d.:]|(?: ?[+-]\d{2}:\d{2}))")


def _events() -> list[dict[str, object]]:
    shanghai, new_york = Events("SH1"), Events("NY1")
    return [
        shanghai.opened(at="2026-09-01T09:00:00"),
        shanghai.bill("b1", "100.00", "2026-09-05", at="2026-09-02T10:00:00"),
        shanghai.overdue("b1", 6, "100.00", at="2026-09-11T09:00:00"),  # a lock at 01:00 UTC
        new_york.opened(at="2026-09-01T13:00:00Z", timezone="America/New_York"),
        new_york.make(
            "BillIssued", "2026-09-02T14:00:00Z", {"bill_id": "=1+2", "amount": "5.00", "due_date": "2026-09-05"}
        ),
    ]


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(event) + "\n" for event in _events()))
    code, _, err = run("ingest", "in.jsonl", "--store", "s.db", cwd=tmp_path)
    assert code == 0, err
    code, _, err = run("projections", "catch-up", "--store", "s.db", cwd=tmp_path)
    assert code == 0, err
    yield tmp_path


def test_query_tables_show_local_times_with_their_offset_on_stdout_uncut(built: Path) -> None:
    code, out, err = run("query", "account", "SH1", "--store", "s.db", cwd=built)
    assert code == 0 and err == "", err  # the tables are results: stdout only
    assert "2026-09-11 09:00 +08:00" in out  # the lock, as it happened for the customer
    assert not BARE_TIME.findall(out), BARE_TIME.findall(out)
    code, out, _ = run("query", "account", "NY1", "--store", "s.db", cwd=built)
    assert "2026-09-02 10:00 -04:00" in out and "America/New_York" in out
    code, out, _ = run("query", "accounts", "--store", "s.db", cwd=built)
    widest = max(len(line) for line in out.splitlines())
    assert widest > 80 and "delinquency_bucket" in out and "…" not in out  # piped: every column, none cut


def test_the_api_gives_times_in_the_accounts_zone(built: Path) -> None:
    store = str(built / "s.db")
    with TestClient(api_at(store), headers={"Authorization": f"Bearer {key_at(store)}"}) as client:
        shanghai = client.get("/accounts/SH1").json()
        new_york = client.get("/accounts/NY1").json()
        queue = client.get("/collection-queue").json()
    assert shanghai["account"]["timezone"] == "Asia/Shanghai"
    assert shanghai["account"]["opened_at"] == "2026-09-01T09:00:00+08:00"
    locks = [d for d in shanghai["decisions"]["items"] if d["command_type"] == "LockCard"]
    assert locks and locks[0]["occurred_at"] == "2026-09-11T09:00:00+08:00"
    assert all(item["occurred_at"].endswith("+08:00") for item in shanghai["history"]["items"])
    assert new_york["account"]["opened_at"] == "2026-09-01T09:00:00-04:00"
    assert queue["items"][0]["account_id"] == "SH1" and queue["items"][0]["last_event_at"].endswith("+08:00")


def test_csv_export_is_safe_in_a_spreadsheet_and_keeps_numbers(built: Path) -> None:
    code, out, err = run("export", "credit_history", "-o", "-", "--store", "s.db", cwd=built)
    assert code == 0 and err.strip().endswith("rows"), err
    rows = list(csv.DictReader(io.StringIO(out)))
    new_york = [row for row in rows if row["account_id"] == "NY1"]
    assert any(row["description"].startswith("'") or "=1+2" not in row["description"] for row in new_york)
    assert not any(value.startswith(("=", "+", "@")) for row in rows for value in row.values())
    assert all(re.search(r"[+-]\d{2}:\d{2}$", row["occurred_at"]) for row in rows)
    code, out, _ = run("export", "account_status", "-o", "-", "--store", "s.db", cwd=built)
    statuses = {row["account_id"]: row for row in csv.DictReader(io.StringIO(out))}
    assert statuses["SH1"]["overdue_outstanding"] == "100.00" and statuses["SH1"]["days_past_due"] == "6"


def test_ingest_refuses_a_50_mb_line_unread_and_reconcile_pairs_its_letter(tmp_path: Path) -> None:
    events = _events()
    big = b'{"event_id": "huge", "type": "BillIssued", "note": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    lines = [json.dumps(event).encode() for event in events]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join([*lines[:2], big, *lines[2:]]) + b"\n")
    code, out, err = run("ingest", "in.jsonl", "--store", "s.db", "--json", cwd=tmp_path)
    notes = [line for line in err.splitlines() if not line.startswith("note: created the master key")]
    assert code == 0 and notes == [], err  # no progress bar when stderr is not a terminal
    summary = json.loads(out)
    assert (summary["accepted"], summary["rejected"]) == (5, 1)
    (letter,) = [json.loads(line) for line in (tmp_path / "s.dead-letter.jsonl").read_text().splitlines()]
    assert letter["source"] == "in.jsonl:3" and "exceeds the 65536-byte limit" in letter["reason"]
    assert letter["payload_bytes"] == len(big) and letter["payload_sha256"] == hashlib.sha256(big).hexdigest()
    assert "payload_masked" not in letter and len(letter["payload_prefix_masked"]) < 2000
    code, out, err = run("reconcile", "--input", "in.jsonl", "--store", "s.db", "--json", cwd=tmp_path)
    assert code == 0, out  # the oversized line is paired with its letter by size and digest: nothing missing


def test_account_status_has_the_timezone_column(built: Path) -> None:
    with sqlite3.connect(built / "s.db") as connection:
        zones = dict(connection.execute("SELECT account_id, timezone FROM rm_account_status").fetchall())
    connection.close()
    assert zones == {"SH1": "Asia/Shanghai", "NY1": "America/New_York"}
