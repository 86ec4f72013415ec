"""Audit proves what the store recorded: tampering is detected; a custom policy is audited without its file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from tests.integration.test_cli import DATA, as_json, fengkong
from tests.integration.test_whatif import policy_file


def tamper(store: Path, like: str, change: tuple[bytes, bytes]) -> str:
    """Alter the first stored state containing `like` in the store itself; the account it belongs to."""
    with sqlite3.connect(store) as db:
        rowid, account, state = db.execute(
            "SELECT rowid, originator_id, state FROM stored_events "
            "WHERE CAST(state AS TEXT) LIKE ? ORDER BY rowid LIMIT 1",
            [f"%{like}%"],
        ).fetchone()
        altered = state.replace(*change)
        assert altered != state
        orjson.loads(altered)  # still a well-formed state: only its content lies
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", [altered, rowid])
    return str(account)


def test_a_tampered_command_is_detected(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    account = tamper(
        tmp_path / "fengkong.db", '"template":"overdue_d1"', (b'"template":"overdue_d1"', b'"template":"overdue_d3"')
    )
    done = fengkong("audit", "--all", "--json", cwd=tmp_path, ok=False)
    assert done.returncode == 1
    differing = as_json(done)["differing"]
    assert [d["account_id"] for d in differing] == [account]
    assert any(c.get("template") == "overdue_d3" for c in differing[0]["recorded_commands"])
    assert not any(c.get("template") == "overdue_d3" for c in differing[0]["derived_commands"])


def test_a_tampered_fact_is_detected(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    account = tamper(tmp_path / "fengkong.db", '"type":"RepaymentReceived"', (b'"amount":"', b'"amount":"1'))
    done = fengkong("audit", account, "--json", cwd=tmp_path, ok=False)
    assert done.returncode == 1
    (found,) = as_json(done)["differing"]
    assert found["account_id"] == account and found["balances_differ"]  # the recorded balances no longer follow


def test_an_account_decided_under_a_custom_policy_file_is_audited_after_the_file_is_deleted(
    tmp_path: Path, store: str
) -> None:
    custom = policy_file(tmp_path, "dpd3-v1", 3)
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--store", store, "--policy", str(custom), cwd=tmp_path)
    custom.unlink()
    done = fengkong("audit", "--all", "--store", store, "--json", cwd=tmp_path)
    report = as_json(done)
    assert report["accounts"] == 5 and report["identical"] == 5
    commands = as_json(fengkong("commands", "--store", store, "--json", cwd=tmp_path))
    assert {c["policy_version"] for c in commands} == {"dpd3-v1"}
    shown = fengkong("policy", "show", "dpd3-v1", "--text", "--store", store, cwd=tmp_path).stdout
    assert 'version = "dpd3-v1"' in shown and "min_days_past_due = 3" in shown
    listed = as_json(fengkong("policy", "list", "--store", store, "--json", cwd=tmp_path))
    assert listed[0]["version"] == "dpd3-v1" and listed[0]["status"] == "active"


def test_a_policy_version_known_with_other_content_and_any_other_policy_are_refused(tmp_path: Path) -> None:
    custom = policy_file(tmp_path, "dpd3-v1", 3)
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--policy", str(custom), cwd=tmp_path)
    custom.write_text(custom.read_text().replace("min_days_past_due = 3", "min_days_past_due = 4"))
    done = fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--policy", str(custom), cwd=tmp_path, ok=False)
    assert done.returncode == 4 and "already recorded with other content" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    other = policy_file(tmp_path, "dpd5-v1", 5)
    done = fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--policy", str(other), cwd=tmp_path, ok=False)
    assert done.returncode == 4 and "fengkong policy propose" in done.stderr and "dpd3-v1" in done.stderr
    again = as_json(fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--json", cwd=tmp_path))
    assert again["duplicates"] == 78  # without --policy the store's active policy decides


def test_policy_diff_names_the_settings_that_differ(tmp_path: Path) -> None:
    strict = policy_file(tmp_path, "dpd7-v1", 7)
    found = as_json(fengkong("policy", "diff", "default-v1", str(strict), "--json", cwd=tmp_path))
    assert found == {
        "a": "default-v1",
        "b": "dpd7-v1",
        "differences": [{"setting": "lock.min_days_past_due", "a": 1, "b": 7}],
    }
