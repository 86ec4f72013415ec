"""Forgetting a customer: nothing of theirs stays readable anywhere, every decision still replays.

Customer A's and customer B's personal values are recognisable markers. After
`fengkong privacy forget` of A, a scan of the whole store (the SQLite file and
its WAL, or a `pg_dump` of the PostgreSQL database), the dead letters, the
read models and every export finds none of A's markers in clear, B's are
untouched, and `fengkong audit --all` passes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from adapters import bootstrap
from adapters.cli.errors import Exit
from adapters.privacy.operations import forget
from adapters.privacy.sealer import RecordedDigests
from adapters.settings import Settings
from adapters.store.urls import is_postgres
from events.inbound import parse_event
from tests.integration.test_cli import as_json, fengkong
from tests.support.wiring import open_engine

PG_DUMP = Path("/usr/lib/postgresql/15/bin/pg_dump")


def markers(who: str) -> dict[str, str]:
    return {
        "customer_id": f"CUSTMARK{who}",
        "phone": f"+86139{'1' if who == 'A' else '2'}7654321",
        "card_ref": f"tok_CARDMARK{who}",
        "reason": f"REASONMARK{who} customer disputed",
        "reviewer": f"REVIEWERMARK{who}",
        "note": f"NOTEMARK{who} called in",
    }


def events(who: str) -> list[dict[str, object]]:
    mark, account = markers(who), f"ACC{who}"

    def event(n: int, kind: str, data: dict[str, object], when: str = "2026-01-05T10:00:00+08:00") -> dict[str, object]:
        return {
            "event_id": f"{who}-{n}",
            "type": kind,
            "account_id": account,
            "occurred_at": when,
            "schema_version": 1,
            "data": data,
        }

    opened = {"customer_id": mark["customer_id"], "credit_limit": "5000.00", "card_ref": mark["card_ref"]}
    return [
        event(1, "AccountOpened", {**opened, "phone": mark["phone"]}, "2026-01-01T10:00:00+08:00"),
        event(2, "BillIssued", {"bill_id": f"{who}-b1", "amount": "300.00", "due_date": "2026-01-20"}),
        event(3, "RepaymentReceived", {"payment_id": f"{who}-p1", "amount": "100.00"}),
        event(4, "RepaymentReversed", {"payment_id": f"{who}-p1", "reason": mark["reason"]}),
        event(
            5,
            "UnlockReviewed",
            {"request_id": "r1", "approved": True, "reviewer": mark["reviewer"], "note": mark["note"]},
        ),
        # refused by the engine (no such payment): a dead letter the engine sealed
        event(6, "RepaymentReversed", {"payment_id": "nope", "reason": mark["reason"]}),
    ]


def broken(who: str) -> bytes:
    """A message that breaks the contract (a float limit) and holds every marker: its dead letter is masked."""
    mark = markers(who)
    data = {**{k: mark[k] for k in ("customer_id", "card_ref", "phone")}, "credit_limit": 5000.5}
    body = {
        "event_id": f"{who}-x",
        "type": "AccountOpened",
        "account_id": f"ACC{who}",
        "occurred_at": "2026-01-01T10:00:00+08:00",
    }
    return orjson.dumps({**body, "schema_version": 1, "data": data, "note": mark["note"]})


def found(blob: bytes, who: str) -> list[str]:
    return [value for value in markers(who).values() if value.encode() in blob]


def scan_store(store: str, folder: Path) -> bytes:
    """Every byte the store holds: the SQLite files, or the PostgreSQL database dumped."""
    if is_postgres(store):
        return subprocess.run([str(PG_DUMP), store.split("?", maxsplit=1)[0]], capture_output=True, check=True).stdout
    return b"".join(path.read_bytes() for path in folder.iterdir() if path.name.startswith("store.db"))


def test_a_forgotten_customer_is_nowhere_in_clear_and_every_decision_still_replays(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if not is_postgres(store):
        store = str(work / "store.db")
    else:  # PostgreSQL forgets only with a forget list configured (the master key comes by value)
        monkeypatch.setenv("FENGKONG_FORGET_LIST", str(tmp_path / "forgotten"))
    lines = [orjson.dumps(e) for who in ("A", "B") for e in events(who)] + [broken("A"), broken("B")]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    letters = work / "letters.jsonl"
    run = {"cwd": work}
    summary = as_json(
        fengkong("ingest", str(tmp_path / "in.jsonl"), "--store", store, "--dead-letter", str(letters), "--json", **run)
    )
    assert (summary["accepted"], summary["rejected"]) == (10, 4)
    fengkong("projections", "catch-up", "--store", store, **run)
    admin = fengkong("keys", "create", "--role", "admin", "--name", "dpo", "--store", store, **run).stdout.strip()
    env_key = ("--key", admin)

    before = fengkong("query", "account", "ACCA", "--store", store, "--json", **run).stdout
    assert {"reason", "reviewer", "note"} <= {k for k, v in markers("A").items() if v in before}
    held = as_json(fengkong("privacy", "export", markers("A")["customer_id"], *env_key, "--store", store, **run))
    assert len(found(json.dumps(held).encode(), "A")) == 6  # the right of access: everything, in clear

    done = as_json(
        fengkong(
            "privacy",
            "forget",
            markers("A")["customer_id"],
            "--reason",
            "PIPL request 42",
            *env_key,
            "--store",
            store,
            **run,
        )
    )
    assert done["accounts"] == ["ACCA"] and done["key_deleted"]
    listed = tmp_path / "forgotten" if is_postgres(store) else work / "store.forgotten"
    assert listed.read_text().split() == [done["key_id"]]

    fengkong("projections", "catch-up", "--store", store, **run)
    outputs = [
        fengkong("query", "account", name, "--store", store, "--json", **run).stdout.encode()
        for name in ("ACCA", "ACCB")
    ]
    outputs.append(fengkong("query", "accounts", "--store", store, "--json", **run).stdout.encode())
    for table in ("credit_history", "decisions", "account_status"):
        outputs.append(fengkong("export", table, "-o", "-", "--store", store, **run).stdout.encode())
        fengkong("export", table, "--format", "parquet", "-o", str(work / f"{table}.parquet"), "--store", store, **run)
        outputs.append((work / f"{table}.parquet").read_bytes())
    outputs.append(
        fengkong("privacy", "export", markers("A")["customer_id"], *env_key, "--store", store, **run).stdout.encode()
    )
    after_b = fengkong("privacy", "export", markers("B")["customer_id"], *env_key, "--store", store, **run).stdout

    everything = b"".join(outputs) + letters.read_bytes() + scan_store(store, work)
    assert found(everything, "A") == []
    assert "forgotten" in outputs[0].decode()  # A's free text reads "forgotten"
    assert len(found(after_b.encode(), "B")) == 6  # B untouched
    assert {"reason", "reviewer", "note"} <= {k for k, v in markers("B").items() if v in outputs[1].decode()}

    audit = as_json(fengkong("audit", "--all", "--store", store, "--json", **run))
    assert audit["accounts"] == 2 and audit["identical"] == 2

    source = ("--input", str(tmp_path / "in.jsonl"), "--dead-letter", str(letters))
    reconciled = fengkong("reconcile", *source, "--store", store, "--json", ok=False, **run)
    report = orjson.loads(reconciled.stdout)
    assert reconciled.returncode == 0 and report["gaps"] == {}, reconciled.stdout
    assert report["counts"]["recorded_forgotten"] == 3  # A's opening, reversal and review: no longer comparable


def test_a_restored_backup_does_not_bring_a_forgotten_customer_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FENGKONG_MASTER_KEY", raising=False)  # the embedded default: a key file beside the store
    work = tmp_path / "work"
    work.mkdir()
    store = str(work / "store.db")
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events("A")) + b"\n")
    fengkong("ingest", str(tmp_path / "in.jsonl"), "--store", store, cwd=work)
    fengkong("projections", "catch-up", "--store", store, cwd=work)
    admin = fengkong("keys", "create", "--role", "admin", "--name", "dpo", "--store", store, cwd=work).stdout.strip()
    backup = tmp_path / "backup.db"
    subprocess.run(["sqlite3", store, f".backup {backup}"], check=False)
    if not backup.exists():  # no sqlite3 shell: copy after a checkpoint
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(store) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(store, backup)
    fengkong(
        "privacy",
        "forget",
        markers("A")["customer_id"],
        "--reason",
        "request",
        "--key",
        admin,
        "--store",
        store,
        cwd=work,
    )
    for leftover in work.glob("store.db*"):
        leftover.unlink()
    shutil.copyfile(backup, store)  # the restore: the backup still holds A's key
    shown = fengkong("query", "account", "ACCA", "--store", store, "--json", cwd=work)
    assert found(shown.stdout.encode(), "A") == [] and "forgotten" in shown.stdout
    assert "deleted 1 forgotten" in shown.stderr
    assert os.stat(work / "store.master-key").st_mode & 0o077 == 0  # owner-only


@pytest.mark.parametrize("rounds", [1])
def test_the_master_key_rotates_while_data_stays_readable(
    tmp_path: Path, rounds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FENGKONG_MASTER_KEY", raising=False)  # a key file: rotated in place
    work = tmp_path / "work"
    work.mkdir()
    store = str(work / "store.db")
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events("A")) + b"\n")
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events("B")) + b"\n")
    fengkong("ingest", str(tmp_path / "a.jsonl"), "--store", store, cwd=work)
    admin = fengkong("keys", "create", "--role", "admin", "--name", "dpo", "--store", store, cwd=work).stdout.strip()
    old = (work / "store.master-key").read_text()
    for _ in range(rounds):
        turned = as_json(fengkong("privacy", "rotate", "--key", admin, "--store", store, cwd=work))
        assert turned["rewrapped"] >= 2 and len(turned["by_master_key"]) == 1  # A's key and the system key
    fengkong("ingest", str(tmp_path / "b.jsonl"), "--store", store, cwd=work)
    retired = as_json(fengkong("privacy", "rotate", "--retire", "--key", admin, "--store", store, cwd=work))
    assert len(retired["by_master_key"]) == 1
    keys = [line for line in (work / "store.master-key").read_text().splitlines() if not line.startswith("#")]
    assert len(keys) == 1 and keys[0] not in old
    fengkong("projections", "catch-up", "--store", store, cwd=work)
    for who in ("A", "B"):
        shown = fengkong("query", "account", f"ACC{who}", "--store", store, "--json", cwd=work).stdout
        assert markers(who)["note"] in shown


def test_reconcile_compares_an_event_as_its_account_s_opening_was_recorded(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest reconcile expects of a message: sealed under the key its account's opening was sealed under,
    None when that key was deleted (the customer forgotten), plain for an account the store does not know."""
    if is_postgres(store):  # a SQLite store's forget list is beside it; PostgreSQL's must be configured
        monkeypatch.setenv("FENGKONG_FORGET_LIST", str(tmp_path / "forgotten"))
    engine = open_engine(store)
    lines = [orjson.dumps(e) for who in ("A", "B") for e in events(who)]
    assert [r.outcome.value for r in engine.ingest(lines)].count("accepted") == 10
    kept = engine.store.select_digests(["A-1", "A-4", "B-1", "B-4"])
    engine.close()
    settings = Settings(store=store)
    keys, records = bootstrap.open_key_ring(settings), bootstrap.privacy_records(settings)
    try:
        digest = RecordedDigests(keys, records)
        parsed = {p.event.event_id: p for p in map(parse_event, lines)}
        assert digest(parsed["A-1"]) == kept["A-1"] and digest(parsed["B-4"]) == kept["B-4"]
        forget(keys, records, markers("A")["customer_id"], "dpo", "k-dpo", "PIPL request 43")
        digest = RecordedDigests(keys, records)
        assert digest(parsed["A-1"]) is None and digest(parsed["A-4"]) is None
        assert (digest(parsed["B-1"]), digest(parsed["B-4"])) == (kept["B-1"], kept["B-4"])
        for line in events("Z")[0], events("Z")[3]:  # an account never opened: its message as it came
            unknown = parse_event(orjson.dumps(line))
            assert digest(unknown) == unknown.digest
    finally:
        keys.close()
        records.close()


def test_postgresql_refuses_to_forget_without_a_forget_list(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The master key by value and no FENGKONG_FORGET_LIST: a list written wherever the operator stands would
    never be re-applied after a restore, so the forget is refused before anything is recorded or deleted
    (one line, the bad-setting exit); reading keeps working; with the setting, the same command forgets."""
    monkeypatch.delenv("FENGKONG_FORGET_LIST", raising=False)
    monkeypatch.delenv("FENGKONG_MASTER_KEY_FILE", raising=False)
    store, customer = postgres_url, markers("A")["customer_id"]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(orjson.dumps(e) for e in events("A")) + b"\n")
    fengkong("ingest", str(tmp_path / "in.jsonl"), "--store", store, cwd=tmp_path)
    admin = fengkong("keys", "create", "--role", "admin", "--name", "dpo", "--store", store, cwd=tmp_path).stdout
    command = ("privacy", "forget", customer, "--reason", "PIPL request 44", "--key", admin.strip(), "--store", store)

    refused = fengkong(*command, cwd=tmp_path, ok=False)
    assert (refused.returncode, refused.stdout) == (Exit.BAD_SETTING, "")
    assert len(refused.stderr.strip().splitlines()) == 1 and "set FENGKONG_FORGET_LIST" in refused.stderr
    assert list(tmp_path.glob("*.forgotten")) == []
    settings = Settings(store=store)
    keys, records = bootstrap.open_key_ring(settings), bootstrap.privacy_records(settings)
    try:  # nothing recorded, the key still there: and opening the key ring without a list works
        assert list(records.forgets()) == [] and keys.find(customer) is not None
    finally:
        keys.close()
        records.close()
    held = fengkong("privacy", "export", customer, "--key", admin.strip(), "--store", store, cwd=tmp_path).stdout
    assert len(found(held.encode(), "A")) == 6

    monkeypatch.setenv("FENGKONG_FORGET_LIST", str(tmp_path / "durable" / "forgotten"))
    done = as_json(fengkong(*command, cwd=tmp_path))
    assert done["key_deleted"] and (tmp_path / "durable" / "forgotten").read_text().split() == [done["key_id"]]
    records = bootstrap.privacy_records(Settings(store=store))
    try:
        assert [forgot["accounts"] for forgot in records.forgets()] == [["ACCA"]]
    finally:
        records.close()
