"""The holiday calendar is recorded data: decisions cite the version they used and replay with it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.integration.test_cli import as_json, fengkong
from tests.integration.test_golden_store import GOLDEN
from tests.integration.test_governance import admin
from tests.support.histories import lines

# Two schedules for 2027's Spring Festival: the one loaded first, and a corrected one loaded later.
FIRST = "[years.2027]\nholidays = [2027-02-05, 2027-02-08, 2027-02-09, 2027-02-10]\nworkdays = [2027-02-06]\n"
CORRECTED = (
    "[years.2027]\nholidays = [2027-02-05, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12]\nworkdays = []\n"
)


def unlock_path(account: str) -> list[dict]:
    """An account locked on overdue, with a plan, asking for unlock on Thu 2027-02-04: a review opens."""

    def event(n: int, kind: str, at: str, data: dict) -> dict:
        return {
            "event_id": f"{account}-{n}",
            "type": kind,
            "account_id": account,
            "occurred_at": at,
            "schema_version": 1,
            "data": data,
        }

    return [
        event(
            1,
            "AccountOpened",
            "2027-01-02T10:00:00+08:00",
            {"customer_id": "c", "credit_limit": "5000.00", "card_ref": "t"},
        ),
        event(
            2,
            "BillIssued",
            "2027-01-03T10:00:00+08:00",
            {"bill_id": "b1", "amount": "800.00", "due_date": "2027-01-20"},
        ),
        event(
            3,
            "OverdueReported",
            "2027-01-25T10:00:00+08:00",
            {"bill_id": "b1", "days_past_due": 5, "outstanding": "800.00"},
        ),
        event(
            4,
            "RepaymentPlanAgreed",
            "2027-01-28T10:00:00+08:00",
            {"plan_id": "p1", "installments": [{"due_date": "2027-03-01", "amount": "800.00"}]},
        ),
        event(5, "UnlockRequested", "2027-02-04T10:00:00+08:00", {"request_id": "r1"}),
    ]


def review_open(tmp_path: Path, store: str, account: str) -> dict:
    story = as_json(fengkong("audit", "explain", account, "--store", store, "--json", cwd=tmp_path))
    (decision,) = [d for fact in story["facts"] for d in fact["decisions"] if d["rule"] == "review.open"]
    return decision


def test_a_deadline_replays_with_its_calendar_after_another_is_loaded_for_that_year(tmp_path: Path, store: str) -> None:
    key = admin(tmp_path, "alice", store)
    for name, events in (("before", unlock_path("W")), ("first", unlock_path("X")), ("later", unlock_path("Y"))):
        (tmp_path / f"{name}.jsonl").write_bytes(b"\n".join(lines(events)))
    (tmp_path / "first.toml").write_text('region = "CN"\nsource = "first notice"\n' + FIRST)
    (tmp_path / "corrected.toml").write_text('region = "CN"\nsource = "corrected notice"\n' + CORRECTED)

    done = fengkong("ingest", "before.jsonl", "--store", store, "--json", cwd=tmp_path)  # 2027 not covered yet
    assert as_json(done)["warnings"] == 1 and "weekdays only" in done.stderr
    fallback = review_open(tmp_path, store, "W")
    assert fallback["facts"]["calendar"] == "chinesecalendar 1.11.0 (weekdays only: year not covered)"
    assert fallback["changes"]["review_deadline"] == "2027-02-11"  # Thu + 5 weekdays

    assert (
        "CN-2 recorded"
        in fengkong("calendar", "load", "first.toml", "--store", store, "--key", key, cwd=tmp_path).stdout
    )
    fengkong("ingest", "first.jsonl", "--store", store, cwd=tmp_path)
    first = review_open(tmp_path, store, "X")
    assert first["facts"]["calendar"] == "CN-2" and first["changes"]["review_deadline"] == "2027-02-16"

    assert (
        "CN-3 recorded"
        in fengkong("calendar", "load", "corrected.toml", "--store", store, "--key", key, cwd=tmp_path).stdout
    )
    fengkong("ingest", "later.jsonl", "--store", store, cwd=tmp_path)
    later = review_open(tmp_path, store, "Y")
    assert later["facts"]["calendar"] == "CN-3" and later["changes"]["review_deadline"] == "2027-02-19"

    audit = as_json(fengkong("audit", "--all", "--store", store, "--json", cwd=tmp_path))
    assert audit["accounts"] == 3 and audit["differing"] == []  # W, X and Y each replay with what they cited
    listed = as_json(fengkong("calendar", "list", "--store", store, "--json", cwd=tmp_path))
    assert [(row["version"], row["active"]) for row in listed] == [
        ("chinesecalendar 1.11.0", False),
        ("CN-2", False),
        ("CN-3", True),
    ]
    assert listed[2]["years"][-1] == 2027 and listed[2]["based_on"] == "CN-2"


def test_loading_needs_an_admin_and_a_valid_file(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    key = admin(tmp_path, "alice", store)
    (tmp_path / "bad.toml").write_text("[years.2027]\nholidays = [2028-01-01]\n")
    (tmp_path / "good.toml").write_text(FIRST)
    refused = fengkong("calendar", "load", "good.toml", "--store", store, cwd=tmp_path, ok=False)
    assert refused.returncode == 3 and "--key" in refused.stderr
    bad = fengkong("calendar", "load", "bad.toml", "--store", store, "--key", key, cwd=tmp_path, ok=False)
    assert bad.returncode == 1 and "another year" in bad.stderr and "Traceback" not in bad.stderr


def test_the_golden_store_audits_identically_after_a_calendar_is_loaded(tmp_path: Path) -> None:
    store = str(tmp_path / "golden.db")
    shutil.copyfile(GOLDEN / "format-1.db", store)
    key = admin(tmp_path, "alice", store)
    exported = fengkong("calendar", "export", "--from-package", "--year", "2026", cwd=tmp_path).stdout
    shifted = exported.replace("2026-10-07]", "2026-10-07, 2026-10-08, 2026-10-09]").replace(", 2026-10-10]", "]")
    assert shifted != exported
    (tmp_path / "2026.toml").write_text(shifted)
    fengkong("calendar", "load", "2026.toml", "--store", store, "--key", key, cwd=tmp_path)
    audit = as_json(fengkong("audit", "--all", "--store", store, "--json", cwd=tmp_path))
    assert audit["accounts"] == 45 and audit["differing"] == []  # old decisions cite chinesecalendar 1.11.0


def test_status_warns_loudly_of_a_year_without_a_schedule(tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    day = {
        "event_id": "d1",
        "type": "DayClosed",
        "occurred_at": "2027-03-01T23:59:00+08:00",
        "schema_version": 1,
        "data": {"business_date": "2027-03-01"},
    }
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines([*unlock_path("W"), day])))
    fengkong("ingest", "events.jsonl", "--store", store, cwd=tmp_path)
    fengkong("projections", "catch-up", "--store", store, cwd=tmp_path)
    status = as_json(fengkong("status", "--store", store, "--json", cwd=tmp_path))
    assert status["calendar"]["years"] == [{"year": 2027, "covered": False}]
    assert "no schedule for 2027" in status["calendar"]["warning"]
    assert "warning" in fengkong("status", "--store", store, cwd=tmp_path).stderr
