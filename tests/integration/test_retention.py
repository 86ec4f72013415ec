"""Retention: `fengkong privacy sweep` forgets the customers whose accounts are all closed past the policy's period.

Three customers under a policy keeping data 30 days after the last closing,
the platform clock at 2026-03-01: A closed everything on 2026-01-06 (due), B
closed one account then but keeps another open, C closed on 2026-02-20 (too
recently). The sweep forgets A alone, recorded like `privacy forget` with the
admin's name and a reason naming retention; a scan of the store, the dead
letters, the read models and the exports finds none of A's markers; B and C
are untouched, audit passes, and a second sweep forgets nothing new.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from adapters import bootstrap
from adapters.cli.errors import Exit
from adapters.settings import Settings
from adapters.store.urls import is_postgres
from engine.policy import policy_text
from tests.integration.test_cli import as_json, fengkong
from tests.integration.test_privacy import events, found, markers, scan_store


def _event(who: str, n: int, kind: str, data: dict[str, object], when: str, account: str = "") -> dict[str, object]:
    return {
        "event_id": f"{who}-{kind}-{n}",
        "type": kind,
        "account_id": account or f"ACC{who}",
        "occurred_at": when,
        "schema_version": 1,
        "data": data,
    }


def _history() -> list[bytes]:
    closed = {"reason": "customer_request"}
    lines = [orjson.dumps(e) for who in ("A", "B", "C") for e in events(who)]
    lines += [
        # B's second account: the same customer, never closed
        orjson.dumps(
            _event(
                "B",
                2,
                "AccountOpened",
                {"customer_id": markers("B")["customer_id"], "credit_limit": "900.00", "card_ref": "tok_B2"},
                "2026-01-02T10:00:00+08:00",
                "ACCB2",
            )
        ),
        # 00:30 in Shanghai: the closing's local day is 2026-01-06 (16:30 UTC the day before)
        orjson.dumps(_event("A", 1, "AccountClosed", closed, "2026-01-06T00:30:00+08:00")),
        orjson.dumps(_event("B", 1, "AccountClosed", closed, "2026-01-06T10:00:00+08:00")),
        orjson.dumps(_event("C", 1, "AccountClosed", closed, "2026-02-20T10:00:00+08:00")),
    ]
    days = ("2026-01-31", "2026-03-01")
    day = {"type": "DayClosed", "schema_version": 1}
    lines += [
        orjson.dumps(
            {**day, "event_id": f"day-{d}", "occurred_at": f"{d}T23:00:00+08:00", "data": {"business_date": d}}
        )
        for d in days
    ]
    return lines


def _retention_policy(days: int) -> str:
    text = policy_text("default-v1").replace('version = "default-v1"', 'version = "retention-test"')
    return f"{text}\n[retention]\nforget_after_days = {days}\n"


def test_the_sweep_forgets_only_customers_closed_past_the_period(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if not is_postgres(store):
        store = str(work / "store.db")
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(_history()) + b"\n")
    (tmp_path / "policy.toml").write_text(_retention_policy(30))
    letters = work / "letters.jsonl"
    run = {"cwd": work}
    on = ("--store", store)
    ingest = ("ingest", str(tmp_path / "in.jsonl"), "--policy", str(tmp_path / "policy.toml"), "--json")
    summary = as_json(fengkong(*ingest, "--dead-letter", str(letters), *on, **run))
    assert summary["rejected"] == 3  # each customer's reversal of no payment
    admin = fengkong("keys", "create", "--role", "admin", "--name", "dpo", *on, **run).stdout.strip()
    analyst = fengkong("keys", "create", "--role", "analyst", "--name", "al", "--key", admin, *on, **run).stdout.strip()

    refused = fengkong("privacy", "sweep", "--key", analyst, *on, **run, ok=False)
    assert refused.returncode == 3 and "admin" in refused.stderr and refused.stdout == ""

    planned = as_json(fengkong("privacy", "sweep", "--dry-run", "--key", admin, *on, **run))
    assert (planned["business_date"], planned["closed_before"], planned["forget_after_days"]) == (
        "2026-03-01",
        "2026-01-30",
        30,
    )
    assert [c["accounts"] for c in planned["would_forget"]] == [["ACCA"]]
    assert planned["would_forget"][0]["closed_on"] == "2026-01-06"
    assert (planned["with_open_accounts"], planned["closed_recently"]) == (1, 1)
    held = fengkong("privacy", "export", markers("A")["customer_id"], "--key", admin, *on, **run).stdout
    assert len(found(held.encode(), "A")) == 6  # the dry run forgot no one

    if is_postgres(store):  # no forget list: refused before anyone is forgotten, the dry run above still ran
        monkeypatch.delenv("FENGKONG_FORGET_LIST", raising=False)
        unlisted = fengkong("privacy", "sweep", "--key", admin, *on, **run, ok=False)
        assert (unlisted.returncode, unlisted.stdout) == (Exit.BAD_SETTING, "")
        assert "set FENGKONG_FORGET_LIST" in unlisted.stderr and "forgot key" not in unlisted.stderr
        monkeypatch.setenv("FENGKONG_FORGET_LIST", str(tmp_path / "forgotten"))
    done = fengkong("privacy", "sweep", "--key", admin, *on, **run)
    swept = json.loads(done.stdout)
    assert [(c["accounts"], c["key_deleted"], c["recorded"]) for c in swept["forgotten"]] == [(["ACCA"], True, True)]
    assert "forgot key" in done.stderr and swept["policy"] == "retention-test"
    again = as_json(fengkong("privacy", "sweep", "--key", admin, *on, **run))
    assert (again["forgotten"], again["already_forgotten"]) == ([], 1)

    records, revealer = bootstrap.privacy_records(Settings(store=store)), bootstrap.revealer(Settings(store=store))
    try:
        (forget,) = list(records.forgets())
        assert (forget["actor"], forget["accounts"]) == ("dpo", ["ACCA"])
        assert revealer.reveal(forget["reason"]).startswith("retention: every account closed, the latest on 2026-01-06")
    finally:
        records.close()
        revealer.close()

    fengkong("projections", "catch-up", *on, **run)
    outputs = [fengkong("query", "account", "ACCA", *on, "--json", **run).stdout.encode()]
    for table in ("credit_history", "account_status"):
        outputs.append(fengkong("export", table, "-o", "-", *on, **run).stdout.encode())
    outputs.append(
        fengkong("privacy", "export", markers("A")["customer_id"], "--key", admin, *on, **run).stdout.encode()
    )
    assert found(b"".join(outputs) + letters.read_bytes() + scan_store(store, work), "A") == []
    for who in ("B", "C"):
        kept = fengkong("privacy", "export", markers(who)["customer_id"], "--key", admin, *on, **run).stdout
        assert len(found(kept.encode(), who)) == 6

    audit = as_json(fengkong("audit", "--all", *on, "--json", **run))
    assert audit["accounts"] == 4 and audit["identical"] == 4


def test_a_policy_without_retention_forgets_no_one(tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(_history()) + b"\n")
    fengkong("ingest", str(tmp_path / "in.jsonl"), "--store", store, cwd=tmp_path)  # default-v1: no [retention]
    admin = fengkong("keys", "create", "--role", "admin", "--name", "dpo", "--store", store, cwd=tmp_path).stdout
    done = fengkong("privacy", "sweep", "--key", admin.strip(), "--store", store, cwd=tmp_path)
    assert json.loads(done.stdout)["forgotten"] == [] and "sets no [retention]" in done.stderr
