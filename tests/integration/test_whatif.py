"""`fengkong audit whatif`, run as users run it: the issue's bar, the period, the accounts, the exit codes."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from tests.integration.test_cli import DATA, as_json, fengkong
from tests.support.histories import BillPlan, lines, oracle, portfolio_events

DEFAULT_V1 = Path(__file__).resolve().parents[2] / "engine/policies/default-v1.toml"


def policy_file(folder: Path, version: str, min_days_past_due: int = 1) -> Path:
    text = DEFAULT_V1.read_text().replace('version = "default-v1"', f'version = "{version}"')
    path = folder / f"{version}.toml"
    path.write_text(text.replace("min_days_past_due = 1", f"min_days_past_due = {min_days_past_due}"))
    return path


def generated_events(seed: int, accounts: int = 40) -> list[dict]:
    rng = random.Random(seed)
    plans = [
        [
            BillPlan(
                rng.randint(10, 3000), tuple(sorted(rng.sample(range(1, 26), rng.randint(0, 5)))), rng.random() < 0.8
            )
            for _ in range(rng.randint(1, 5))
        ]
        for _ in range(accounts)
    ]
    return portfolio_events(plans)


def test_whatif_with_the_active_policy_renamed_reports_zero_differences_and_exits_0(tmp_path: Path, store: str) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), "--store", store, cwd=tmp_path)
    (tmp_path / "more.jsonl").write_bytes(b"\n".join(lines(generated_events(3))))
    fengkong("ingest", "more.jsonl", "--store", store, cwd=tmp_path)
    renamed = policy_file(tmp_path, "default-v1-renamed")
    done = fengkong("audit", "whatif", "--policy", str(renamed), "--store", store, "--json", cwd=tmp_path)
    report = as_json(done)
    assert report["identical"] is True and report["differing_count"] == 0 and report["differing_accounts"] == []
    assert report["commands_by_type"]["recorded"] == report["commands_by_type"]["candidate"]
    recorded = [c["type"] for c in as_json(fengkong("commands", "--store", store, "--json", cwd=tmp_path))]
    assert sum(report["commands_by_type"]["recorded"].values()) == len(recorded) > 0
    assert report["accounts"] == 45 and report["candidate"]["version"] == "default-v1-renamed"
    assert "whatif:" in done.stderr and "facts/s" in done.stderr  # progress on stderr


def test_whatif_locking_at_7_days_reports_lock_counts_that_match_an_independent_count(tmp_path: Path) -> None:
    events = generated_events(11, accounts=60)
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines(events)))
    fengkong("ingest", "events.jsonl", cwd=tmp_path)
    done = fengkong(
        "audit", "whatif", "--policy", str(policy_file(tmp_path, "dpd7-v1", 7)), "--json", cwd=tmp_path, ok=False
    )
    assert done.returncode == 1, done.stderr  # it differs
    report = as_json(done)
    at_1, at_7 = oracle(events, 1), oracle(events, 7)
    assert at_1.locks > at_7.locks > 0
    assert report["commands_by_type"]["recorded"]["LockCard"] == at_1.locks
    assert report["commands_by_type"]["candidate"]["LockCard"] == at_7.locks
    assert report["locks"]["locked_only_recorded"] == sorted(at_1.locked_accounts - at_7.locked_accounts)
    assert report["locks"]["first_lock_later"] == sum(
        1 for a in at_1.locked_accounts & at_7.locked_accounts if at_7.first_lock[a] > at_1.first_lock[a]
    )
    assert len(report["differing_accounts"]) == report["differing_count"] == len(report["differences"])


def test_whatif_decides_again_only_the_period_and_the_accounts_named(tmp_path: Path) -> None:
    events = generated_events(5, accounts=30)
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines(events)))
    fengkong("ingest", "events.jsonl", cwd=tmp_path)
    strict = str(policy_file(tmp_path, "dpd7-v1", 7))
    window = ("2026-02-01", "2026-03-31")
    done = fengkong(
        "audit", "whatif", "--policy", strict, "--from", window[0], "--to", window[1], "--json", cwd=tmp_path, ok=False
    )
    report = as_json(done)
    in_window = [e for e in events if window[0] <= e["occurred_at"][:10] <= window[1]]
    commands = as_json(fengkong("commands", "--json", cwd=tmp_path))
    recorded_locks = [
        c for c in commands if c["type"] == "LockCard" and window[0] <= c["occurred_at"][:10] <= window[1]
    ]
    assert report["commands_by_type"]["recorded"].get("LockCard", 0) == len(recorded_locks)
    assert report["facts_decided"] == len(in_window)
    assert report["period"] == {"from": window[0], "to": window[1]}
    some = sorted({e["account_id"] for e in events})[:3]
    only = as_json(
        fengkong("audit", "whatif", "--policy", strict, "--accounts", ",".join(some), "--json", cwd=tmp_path, ok=False)
    )
    assert only["accounts"] == 3 and set(only["differing_accounts"]) <= set(some)


def test_whatif_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)
    conflicting = tmp_path / "default-v1-edited.toml"
    conflicting.write_text(DEFAULT_V1.read_text().replace("max_per_window = 3", "max_per_window = 4"))
    cases = [
        (["--policy", "missing.toml"], "no policy file"),
        (["--policy", "no-such-version"], "no shipped policy"),
        (["--policy", str(conflicting)], "already recorded with other content"),
        (["--policy", str(DEFAULT_V1), "--from", "2026-02-30"], "--from"),
        (["--policy", str(DEFAULT_V1), "--from", "2026-03-01", "--to", "2026-02-01"], "after --to"),
    ]
    for args, reason in cases:
        done = fengkong("audit", "whatif", *args, cwd=tmp_path, ok=False)
        assert done.returncode == 2, (args, done.stderr)
        assert reason in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_whatif_writes_nothing_to_the_store(tmp_path: Path) -> None:
    fengkong("ingest", str(DATA / "contract_scenario.jsonl"), cwd=tmp_path)

    def stored() -> list[tuple]:
        with sqlite3.connect(tmp_path / "fengkong.db") as db:
            return db.execute(
                "SELECT originator_id, originator_version, state FROM stored_events ORDER BY rowid"
            ).fetchall()

    before = stored()
    fengkong("audit", "whatif", "--policy", str(policy_file(tmp_path, "dpd7-v1", 7)), "--json", cwd=tmp_path, ok=False)
    assert stored() == before
    listed = json.loads(fengkong("policy", "list", "--json", cwd=tmp_path).stdout)
    assert [p["version"] for p in listed if p["status"] != "shipped (not recorded)"] == ["default-v1"]
