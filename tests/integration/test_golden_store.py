"""The golden stores: what stored format 1 recorded is read, replayed and audited by every later version.

tests/data/golden/format-1.db was written once by the engine of stored format 1
(tests/data/golden/make_golden.py), format-1-sealed.db by the same format with
sealed personal data, the emergency brake, operators' actions, a notice outcome
and a forget (make_sealed.py, its test master key beside it). Neither is ever
rewritten: a change that could no longer read one, or that would decide
differently on it, fails here. Every check runs on both; the last ones on what
only the sealed store holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from adapters import bootstrap
from adapters.access.keys import Principal, Role
from adapters.audit import parallel
from adapters.audit.brake import audit_brake_ledger
from adapters.audit.parallel import Audit, AuditPool
from adapters.bootstrap import open_engine_tables
from adapters.cli import cli
from adapters.operators.service import Operators
from adapters.settings import Settings
from events.inbound import load_object
from events.operator import ACTION_TYPES, recorded_digest
from events.personal import FORGOTTEN as FORGOTTEN_TEXT
from events.personal import sealed_key
from events.recorded import decode
from tests.builders import Events
from tests.data.golden import make_sealed
from tests.support.wiring import open_engine, runner_at

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
SEALED = "format-1-sealed"
STORES = ["format-1", SEALED]


@dataclass(frozen=True)
class Golden:
    store: str  # a copy: the tests alter it
    expected: dict[str, Any]


@pytest.fixture(params=STORES)
def golden(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Golden:
    return copy_of(request.param, tmp_path, monkeypatch)


def copy_of(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Golden:
    """A copy of the golden store `name`, with its master key file (read from beside it, as the engine does)."""
    monkeypatch.delenv("FENGKONG_MASTER_KEY", raising=False)
    for found in GOLDEN.glob(f"{name}.*"):
        if found.suffix in (".db", ".master-key"):
            shutil.copyfile(found, tmp_path / found.name)
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text())
    return Golden(str(tmp_path / f"{name}.db"), expected)


def test_every_stored_event_decodes_in_the_current_format(golden: Golden) -> None:
    with sqlite3.connect(golden.store) as db:
        states = [state for (state,) in db.execute("SELECT state FROM stored_events")]
    assert states
    assert {orjson.loads(state)["v"] for state in states} == {1}
    for state in states:
        decode(state)


def digests(store: str) -> tuple[dict[str, bytes], dict[str, bytes], set[str]]:
    """(the inbound index's digests, each stored fact's digest read back, the operators' actions' event ids)."""
    with sqlite3.connect(store) as db:
        kept = dict(db.execute("SELECT event_id, digest FROM fengkong_inbound"))
        states = [decode(state) for (state,) in db.execute("SELECT state FROM stored_events")]
    db.close()
    facts = [state["fact"] for state in states if "fact" in state]  # not the brake's, documents', forgets' events
    found = {fact["event_id"]: recorded_digest(load_object(fact)) for fact in facts}
    return kept, found, {fact["event_id"] for fact in facts if fact["type"] in ACTION_TYPES}


def test_every_stored_fact_gives_the_digest_its_inbound_row_keeps(golden: Golden) -> None:
    """What reconcile compares: the digest of each fact read back is the one recorded on its way in."""
    kept, found, _ = digests(golden.store)
    assert kept and found == kept


def test_every_operator_action_gives_the_digest_its_inbound_row_keeps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An action's free text is sealed before it is recorded; its digest still leaves its time out."""
    kept, found, actions = digests(copy_of(SEALED, tmp_path, monkeypatch).store)
    assert len(actions) == 4
    assert {k: found[k] for k in actions} == {k: kept[k] for k in actions}


def test_the_golden_store_audits_and_emits_the_same_commands(golden: Golden) -> None:
    store, expected = golden.store, golden.expected
    verdicts = list(Audit(Settings(store=store), None))
    assert len(verdicts) == expected["accounts"]
    assert all(v.identical for v in verdicts), [v.account_id for v in verdicts if not v.identical][:5]
    commands = [c.model_dump(mode="json") for c in open_engine(store).commands()]
    assert len(commands) == expected["commands"]
    assert hashlib.sha256(orjson.dumps(commands)).hexdigest() == expected["commands_sha256"]


def test_the_golden_store_builds_every_read_model(golden: Golden) -> None:
    store = golden.store
    runner = runner_at(store)
    try:
        runner.catch_up()
        assert min(runner.positions.values()) == runner.head() > 0
    finally:
        runner.close()


def test_the_golden_store_takes_new_events_after_the_old_ones(golden: Golden) -> None:
    store = golden.store
    engine = open_engine(store)
    scenario = (GOLDEN.parent / "contract_scenario.jsonl").read_bytes().splitlines()
    assert {r.outcome.value for r in engine.ingest(scenario)} == {"duplicate"}


def test_the_golden_store_audits_the_same_on_two_processes_and_finds_a_tampered_decision(golden: Golden) -> None:
    """The pool of `audit --all --jobs N` (one engine per process, accounts in slices) gives the verdicts of one
    process, in order, and still catches a decision altered in the store."""
    store = golden.store
    alone = list(Audit(Settings(store=store), None))
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


# ------------------------------------------------------------ what only the sealed store holds

HELD, STILL_HELD = 6, 4  # the brake held 6 locks of the burst; an operator released one and dropped one
FORGOTTEN, KEPT = "CUSTMARK-FORGOTTEN", "CUSTMARK-KEPT"  # the customers of GOLDA and GOLDB (make_sealed.py)


@pytest.fixture
def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return copy_of(SEALED, tmp_path, monkeypatch).store


def test_the_brake_ledger_and_the_held_locks_read_back_and_replay(sealed: str) -> None:
    proof = audit_brake_ledger(Settings(store=sealed))
    assert proof.identical, proof.differences[:3]
    assert proof.held == HELD and proof.batches >= 1 and len(proof.clock_actions) == 1
    tables = open_engine_tables(Settings(store=sealed))
    try:
        holds = tables.holds()
        brake = tables.brake()
    finally:
        tables.db.close()
    assert len(holds) == STILL_HELD and all(h.commands and h.rule == "lock.overdue" for h in holds)
    assert brake is not None and brake.version >= 1
    verdicts = list(Audit(Settings(store=sealed), sorted({h.account_id for h in holds} | {"GOLDB"})))
    assert all(v.identical for v in verdicts)
    acted = sorted(a["action"] for v in list(Audit(Settings(store=sealed), None)) for a in v.actions)
    assert acted == ["HoldDropped", "HoldReleased", "ReviewDecided"]


def test_an_operator_releases_a_lock_the_old_engine_held(sealed: str) -> None:
    tables = open_engine_tables(Settings(store=sealed))
    operators = Operators(open_engine(sealed, cache_size=1), tables)
    try:
        hold = tables.holds()[0]
        released = operators.release(Principal("k-t", "tester", Role.OPERATOR), [hold.hold_id], "checked")
        assert [o.outcome for o in released] == ["applied"] and released[0].commands == hold.commands
        assert len(tables.holds()) == STILL_HELD - 1
    finally:
        operators.engine.close()
        tables.db.close()
    assert all(v.identical for v in Audit(Settings(store=sealed), [hold.account_id]))


def opened(store: str, account_id: str) -> dict[str, Any]:
    """The account's AccountOpened data and its first free text, shown to a person (the product's reveal path)."""
    engine, revealer = open_engine(store), bootstrap.revealer(Settings(store=store))
    try:
        facts = [state["fact"] for _, history in engine.recorded_histories([account_id]) for state in history]
        data = facts[0]["data"]
        reason = next(f["data"]["reason"] for f in facts if f["type"] == "RepaymentReversed")
        return revealer.reveal({**{k: data[k] for k in ("customer_id", "card_ref", "phone")}, "reason": reason})
    finally:
        revealer.close()
        engine.close()


def test_sealed_values_open_with_the_committed_master_key(sealed: str) -> None:
    with sqlite3.connect(sealed) as db:
        stored = b"".join(state for (state,) in db.execute("SELECT state FROM stored_events"))
    db.close()
    assert KEPT.encode() not in stored and FORGOTTEN.encode() not in stored  # sealed, not in clear
    assert opened(sealed, "GOLDB") == {
        "customer_id": KEPT,
        "card_ref": f"tok_{KEPT}",
        "phone": "+8613900000002",
        "reason": f"{KEPT} disputed",
    }


def test_a_new_account_of_a_kept_customer_is_sealed_under_the_key_recorded_for_them(sealed: str) -> None:
    e = Events("GOLDC")
    opening = e.opened("2026-11-01T10:00:00", customer_id=KEPT, card_ref=f"tok_{KEPT}", phone="+8613900000002")
    paid = e.pay("p1", "10.00", "2026-11-02T10:00:00")
    refund = e.make("RepaymentReversed", "2026-11-03T10:00:00", {"payment_id": "p1", "reason": f"{KEPT} disputed"})
    engine = open_engine(sealed)
    try:
        results = engine.ingest([orjson.dumps(event) for event in (opening, paid, refund)])
        assert {r.outcome.value for r in results} == {"accepted"}
        histories = dict(engine.recorded_histories(["GOLDB", "GOLDC"]))
        keys = {sealed_key(history[0]["fact"]["data"]["customer_id"]) for history in histories.values()}
    finally:
        engine.close()
    assert len(keys) == 1 and None not in keys
    assert opened(sealed, "GOLDC") == opened(sealed, "GOLDB")


def test_the_forgotten_customer_reads_forgotten_and_still_replays(sealed: str) -> None:
    assert set(opened(sealed, "GOLDA").values()) == {FORGOTTEN_TEXT}
    verdicts = list(Audit(Settings(store=sealed), ["GOLDA"]))
    assert len(verdicts) == 1 and verdicts[0].identical and verdicts[0].decisions_recorded > 0
    records = bootstrap.privacy_records(Settings(store=sealed))
    try:
        assert len(list(records.forgets())) == 1
    finally:
        records.close()


def test_reconcile_against_the_inputs_finds_no_gap(sealed: str, tmp_path: Path) -> None:
    """`fengkong reconcile` of the store against the messages that came in (the synthetic portfolio left out):
    the forgotten customer's events are recorded but can no longer be compared, the operators' actions on
    accounts are indexed under their facts' digests."""
    engine = open_engine(sealed)
    notice = next(c for c in engine.commands() if c.account_id == "GOLDB" and c.type == "SendNotice")
    engine.close()
    opened, burst, _ = make_sealed.inputs()
    lines = [*opened, *burst, make_sealed.notice_outcome(notice.command_id)]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    flags = ["--no-projections", "--no-commands", "--partial", "--json"]
    done = CliRunner().invoke(cli, ["reconcile", "--input", str(tmp_path / "in.jsonl"), "--store", sealed, *flags])
    report = orjson.loads(done.stdout)
    assert done.exit_code == 0 and report["gaps"] == {}, done.stdout
    assert len(actions_on_accounts(sealed)) == 3 and report["counts"]["operator_actions"] == 4
    assert report["counts"]["recorded"] == len(lines)
    assert report["counts"]["recorded_forgotten"] == 2  # GOLDA's opening and its reversal's reason


def actions_on_accounts(store: str) -> list[tuple[str, str]]:
    """(account, event id) of every operator's action recorded on an account's stream."""
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT originator_id, state FROM stored_events WHERE originator_id NOT LIKE '$%'")
        found = [(str(account), decode(state)["fact"]) for account, state in rows]
    db.close()
    return [(account, fact["event_id"]) for account, fact in found if fact["type"] in ACTION_TYPES]


def test_audit_all_on_the_pool_proves_the_brake_ledger_as_one_process_does(
    sealed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`audit --all` on several processes proves the brake's ledger on the pool, beside the accounts, and hands
    over the proof a single pass gives (its held locks included)."""
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)  # the golden store's 87 accounts take the pool
    run = Audit(Settings(store=sealed), None, jobs=2, brake=True)
    verdicts = list(run)
    alone = audit_brake_ledger(Settings(store=sealed))
    assert all(v.identical for v in verdicts) and len(verdicts) > 2
    assert run.brake == alone and alone.identical and alone.held == HELD
