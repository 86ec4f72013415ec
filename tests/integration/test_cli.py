"""The `fengkong` command line, run as a real process the way users run it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
FENGKONG = str(Path(sys.executable).with_name("fengkong"))


def fengkong(*args: str, cwd: Path, stdin: bytes | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [FENGKONG, *args],
        cwd=cwd,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def test_ingest_then_query_the_default_store(tmp_path: Path, store: str) -> None:
    lines = (DATA / "contract_scenario.jsonl").read_bytes()
    noisy = lines + b'{"event_id": "bad-1", "type": "BillIssued", "amount": 1.5}\n\n' + lines.splitlines()[0] + b"\n"
    (tmp_path / "in.jsonl").write_bytes(noisy)
    summary = as_json(fengkong("ingest", "in.jsonl", "--store", store, "--json", cwd=tmp_path))
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (78, 1, 1)
    letters = [json.loads(line) for line in (tmp_path / summary["dead_letter"]).read_text().splitlines()]
    assert letters[0]["event_id"] == "bad-1" and "unknown field" in letters[0]["reason"]
    assert letters[0]["payload_masked"].startswith('{"event_id":"bad-1"')

    account = as_json(fengkong("account", "C2", "--store", store, "--json", cwd=tmp_path))
    assert account["account_id"] == "C2" and account["status"] == "current"
    assert account["card_locked"] is False and account["credit_line_suspended"] is False
    assert (account["credit_limit"], account["overdue_outstanding"]) == ("2000.00", "0.00")

    commands = as_json(fengkong("commands", "--account", "C1", "--store", store, "--json", cwd=tmp_path))
    assert [c["type"] for c in commands][:3] == ["LockCard", "SuspendCreditLine", "SendNotice"]
    assert all(c["account_id"] == "C1" and c["policy_version"] == "default-v1" for c in commands)

    audit = as_json(fengkong("audit", "--all", "--store", store, "--json", cwd=tmp_path))
    assert audit["accounts"] == 5 and audit["identical"] == 5 and audit["differing"] == []


def test_ingest_reads_stdin_and_defaults_to_fengkong_db(tmp_path: Path) -> None:
    lines = (DATA / "contract_scenario.jsonl").read_bytes()
    fengkong("ingest", "-", cwd=tmp_path, stdin=lines)
    assert (tmp_path / "fengkong.db").exists()
    again = as_json(fengkong("ingest", "-", "--json", cwd=tmp_path, stdin=lines))
    assert again["duplicates"] == 78 and again["accepted"] == 0


def test_what_if_shows_another_policy_would_decide_differently(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    lenient = tmp_path / "lenient.toml"
    text = (Path(__file__).resolve().parents[2] / "engine/policies/default-v1.toml").read_text()
    lenient.write_text(
        text.replace('version = "default-v1"', 'version = "lenient-v1"').replace(
            'min_overdue_outstanding = "1.00"', 'min_overdue_outstanding = "5000.00"'
        )
    )
    done = fengkong("audit", "whatif", "--policy", str(lenient), "--accounts", "C2", "--json", cwd=tmp_path, ok=False)
    assert done.returncode == 1, done.stderr
    report = as_json(done)
    assert report["differing_accounts"] == ["C2"] and report["locks"]["locked_only_recorded"] == ["C2"]
    assert "LockCard" not in report["commands_by_type"]["candidate"]
    assert report["commands_by_type"]["recorded"]["LockCard"] >= 1


def test_a_tampered_decision_fails_the_audit(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    db = sqlite3.connect(tmp_path / "fengkong.db")
    row = db.execute(
        "SELECT rowid, state FROM stored_events WHERE topic = 'fact' "
        "AND CAST(state AS TEXT) LIKE '%lock.overdue%' LIMIT 1"
    ).fetchone()
    db.execute(
        "UPDATE stored_events SET state = ? WHERE rowid = ?", (row[1].replace(b"lock.overdue", b"lock.manual!"), row[0])
    )
    db.commit()
    done = fengkong("audit", "--all", "--json", cwd=tmp_path, ok=False)
    assert done.returncode == 1
    assert len(as_json(done)["differing"]) == 1


def test_unknown_account_is_a_clear_error(tmp_path: Path) -> None:
    done = fengkong("account", "NOPE", cwd=tmp_path, ok=False)
    assert done.returncode == 8 and "no store at fengkong.db" in done.stderr  # read-only: no store created
    assert not (tmp_path / "fengkong.db").exists()
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    done = fengkong("account", "NOPE", cwd=tmp_path, ok=False)
    assert done.returncode == 1 and "no account 'NOPE'" in done.stderr


def test_schema_and_policy_commands(tmp_path: Path) -> None:
    schema = as_json(fengkong("schema", cwd=tmp_path))
    assert schema["$schema"].endswith("2020-12/schema")
    assert "SendNotice" in json.dumps(as_json(fengkong("schema", "--commands", cwd=tmp_path)))
    policy = as_json(fengkong("policy", "show", "default-v1", cwd=tmp_path))
    assert policy["settings"]["notices"]["points"] == [1, 3, 7, 15, 30]
    assert policy["origin"] == "shipped with the engine" and policy["digest"].startswith("sha256:")
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "x"\n')
    assert "Field required" in fengkong("policy", "show", str(bad), cwd=tmp_path, ok=False).stderr


def test_demo_runs_to_its_summary_on_the_default_store(tmp_path: Path) -> None:
    summary = as_json(fengkong("demo", "--accounts", "150", "--days", "120", "--json", cwd=tmp_path))
    assert summary["events"]["accepted"] > 1000 and summary["events"]["duplicates"] > 0
    assert summary["commands"]["LockCard"] > 0 and summary["notices"]["held_by_quiet_hours"] > 0
    assert sum(summary["accounts_by_status"].values()) == 150
    last_card_command: dict[str, str] = {}
    for command in as_json(fengkong("commands", "--json", cwd=tmp_path)):
        if command["type"] in ("LockCard", "UnlockCard"):
            last_card_command[command["account_id"]] = command["type"]
    locked = sum(kind == "LockCard" for kind in last_card_command.values())
    assert summary["accounts_by_status"].get("locked", 0) == locked
    account = as_json(fengkong("account", "ACC0000001", "--json", cwd=tmp_path))
    assert account["account_id"] == "ACC0000001"


@pytest.mark.parametrize(
    "command",
    [
        ["ingest"],
        ["account"],
        ["commands"],
        ["audit"],
        ["audit", "explain"],
        ["audit", "whatif"],
        ["demo"],
        ["schema"],
        ["policy"],
        ["policy", "approve"],
        ["calendar", "load"],
        ["shadow", "report"],
    ],
)
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    assert "Usage:" in fengkong(*command, "--help", cwd=tmp_path).stdout
