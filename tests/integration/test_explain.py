"""`fengkong audit explain`: an account's story, the thresholds each decision compared, its state at a moment."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_cli import DATA, as_json, fengkong
from tests.integration.test_whatif import policy_file


def test_explain_tells_facts_decisions_thresholds_commands_and_operators(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    story = as_json(fengkong("audit", "explain", "C1", "--json", cwd=tmp_path))
    facts = story["facts"]
    assert facts[0]["type"] == "AccountOpened" and facts[0]["data"]["phone"].endswith("00")
    assert "13800138" not in str(facts[0]["data"]["phone"])  # personal data masked
    lock = next(d for f in facts for d in f["decisions"] if d["rule"] == "lock.overdue")
    assert lock["facts"]["days_past_due"] == 1 and lock["command"]["type"] == "LockCard"
    # default-v1 did not record min_days_past_due with its decisions: explain reads it from the recorded policy
    assert lock["thresholds"] == {"lock.min_days_past_due": 1, "lock.min_overdue_outstanding": "1.00"}
    assert lock["thresholds_from"] == "policy default-v1 as recorded in the store"
    reviewed = next(f for f in facts if f["type"] == "UnlockReviewed")
    assert reviewed["operator_action"] == {"by": "ops-7", "action": "UnlockReviewed"}
    text = fengkong("audit", "explain", "C1", cwd=tmp_path).stdout
    assert (
        "lock.overdue: LockCard" in text and "lock.min_days_past_due 1" in text and "operator action by ops-7" in text
    )


def test_explain_at_a_moment_gives_the_state_then(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    locked = as_json(fengkong("audit", "explain", "C2", "--at", "2026-09-02T12:00:00+08:00", "--json", cwd=tmp_path))
    assert locked["state"]["card_locked"] is True and locked["state"]["overdue_outstanding"] == "800.00"
    assert [f["type"] for f in locked["facts"]] == ["AccountOpened", "BillIssued", "OverdueReported"]
    repaid = as_json(fengkong("audit", "explain", "C2", "--at", "2026-09-05T00:00:00+08:00", "--json", cwd=tmp_path))
    assert repaid["state"]["card_locked"] is False and repaid["state"]["overdue_outstanding"] == "0.00"
    before = as_json(fengkong("audit", "explain", "C2", "--at", "2026-01-01T00:00:00+08:00", "--json", cwd=tmp_path))
    assert before["state"] is None and before["facts"] == []
    naive = fengkong("audit", "explain", "C2", "--at", "2026-09-02T12:00:00", cwd=tmp_path, ok=False)
    assert naive.returncode == 2 and "offset" in naive.stderr
    missing = fengkong("audit", "explain", "NOPE", cwd=tmp_path, ok=False)
    assert missing.returncode == 1 and "no account 'NOPE'" in missing.stderr


def test_a_policy_that_records_thresholds_shows_them_from_the_decision(tmp_path: Path) -> None:
    recording = policy_file(tmp_path, "dpd1-v2")
    recording.write_text(recording.read_text() + "\n[decisions]\nrecord_thresholds = true\n")
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--policy", str(recording), cwd=tmp_path)
    story = as_json(fengkong("audit", "explain", "C2", "--json", cwd=tmp_path))
    lock = next(d for f in story["facts"] for d in f["decisions"] if d["rule"] == "lock.overdue")
    assert lock["thresholds_from"] == "recorded with the decision"
    assert lock["thresholds"]["lock.min_days_past_due"] == 1
    assert as_json(fengkong("audit", "--all", "--json", cwd=tmp_path))["differing"] == []
