"""Scorecards are recorded in the store like policies: audit, what-if, explain and the engine never need the file.

A portfolio decided under default-v2 (`fengkong demo`), then the shipped
scorecards folder replaced by an empty one (or one holding a changed
`pd-demo-v1`): everything that reads recorded facts resolves the scorecard
from the store; a scorecard version recorded with other content is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from adapters.cli import cli
from adapters.cli.errors import Exit
from adapters.store.tables import table_name
from adapters.synthetic.latent import LatentPortfolio
from engine.policy import policy_text
from engine.scoring import scorecard as scorecards
from engine.scoring.scorecard import SHIPPED, dump_scorecard, parse_scorecard, shipped_scorecard
from projections.decisions import DECISIONS
from tests.integration.test_read_models import run_demo
from tests.support.wiring import api_at, tables_at

BAD_SETTING = Exit.BAD_SETTING
REFUSED = 3  # a governance step the rules refuse (adapters.cli.governance)
SHIPPED_FILE = SHIPPED.joinpath("pd-demo-v1.json").read_text(encoding="utf-8")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> Any:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture
def decided(store: str) -> str:
    """100 accounts over 150 days decided under default-v2 (its first use records pd-demo-v1)."""
    run_demo(store, 100, 150, "--no-score")
    return store


@pytest.fixture
def unshipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped scorecards folder replaced by an empty one."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(scorecards, "SHIPPED", folder)
    shipped_scorecard.cache_clear()
    yield folder
    shipped_scorecard.cache_clear()


def later_events(tmp_path: Path) -> Path:
    """Other accounts' events (ids of their own), for an ingest after the first."""
    events = LatentPortfolio(20, 60, seed=11).events()
    path = tmp_path / "later.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps({**e, "event_id": f"later-{e['event_id']}", "account_id": f"later-{e['account_id']}"}) + b"\n"
            for e in events
            if "account_id" in e  # the demo's store closed those days already
        )
    )
    return path


def scored_account(store: str) -> str:
    db = tables_at(store)
    try:
        rows = db.query(f"SELECT account_id FROM {table_name(DECISIONS)} WHERE rule = ?", ["score.tier"])
    finally:
        db.close()
    assert rows, "default-v2 scored no account"
    return str(rows[0][0])


def test_audit_explain_whatif_and_the_engine_need_no_scorecard_file(
    decided: str, unshipped: Path, tmp_path: Path
) -> None:
    store = decided
    [listed] = ok("score", "list", "--store", store, "--json")
    assert listed["version"] == "pd-demo-v1" and listed["status"] == "active"
    assert listed["digest"] == "sha256:" + hashlib.sha256(SHIPPED_FILE.encode()).hexdigest()
    assert listed["named_by"] == ["default-v2"] and listed["recorded"]["by"] == "(first use)"
    with pytest.raises(FileNotFoundError):
        shipped_scorecard("pd-demo-v1")

    audited = ok("audit", "--all", "--store", store, "--json")
    assert audited["differing"] == [] and audited["accounts"] >= 100
    account = scored_account(store)
    story = ok("audit", "explain", account, "--store", store, "--json")
    assert "pd-demo-v1" in orjson.dumps(story).decode()  # its scored decisions, derived again
    explained = ok("score", "explain", account, "--store", store, "--json")  # the active policy's scorecard
    assert explained["scorecard"] == "pd-demo-v1"
    assert explained["base_points"] + sum(p["points"] for p in explained["contributions"]) == explained["score"]
    whatif = ok("audit", "whatif", "--policy", "default-v2", "--jobs", "1", "--store", store, "--json")
    assert whatif["identical"] is True

    # the engine reloads the store's active policy and decides new facts with the recorded scorecard
    ok("ingest", str(later_events(tmp_path)), "--store", store, "--json")
    assert ok("audit", "--all", "--store", store, "--json")["differing"] == []


def test_a_scorecard_version_recorded_with_other_content_is_refused(
    decided: str, unshipped: Path, tmp_path: Path
) -> None:
    store = decided
    card = parse_scorecard(SHIPPED_FILE)
    (unshipped / "pd-demo-v1.json").write_text(dump_scorecard(card.model_copy(update={"base_points": 1})))
    later = str(later_events(tmp_path))

    # a policy handed in as a file (--policy, a what-if candidate) is bound to the shipped file: refused
    refused = run("ingest", later, "--policy", "default-v2", "--store", store)
    assert refused.exit_code == BAD_SETTING and isinstance(refused.exception, SystemExit)
    [line] = refused.stderr.strip().splitlines()
    assert "scorecard pd-demo-v1 is already recorded with other content" in line and "a version is immutable" in line
    candidate = tmp_path / "v2.toml"
    candidate.write_text(policy_text("default-v2"))
    whatif = run("audit", "whatif", "--policy", str(candidate), "--jobs", "1", "--store", store)
    assert whatif.exit_code == 2 and "scorecard pd-demo-v1 is already recorded" in whatif.stderr
    renamed = tmp_path / "v2b.toml"
    renamed.write_text(policy_text("default-v2").replace('version = "default-v2"', 'version = "default-v2b"'))
    alice = ok("keys", "create", "--role", "admin", "--name", "alice", "--store", store).strip()
    proposed = run("policy", "propose", str(renamed), "--key", alice, "--store", store)
    assert proposed.exit_code == REFUSED and "scorecard pd-demo-v1 is already recorded" in proposed.stderr
    with TestClient(api_at(store)) as client:
        bearer = {"Authorization": f"Bearer {alice}"}
        made = client.post("/policies", json={"text": renamed.read_text()}, headers=bearer)
        assert made.status_code == 409 and "scorecard pd-demo-v1 is already recorded" in made.json()["detail"]
        assert client.get("/policies/default-v2", headers=bearer).status_code == 200  # bound as recorded
    # a version the store recorded is read as recorded, its scorecard too: nothing to refuse
    assert ok("audit", "whatif", "--policy", "default-v2", "--jobs", "1", "--store", store, "--json")["identical"]

    # without --policy the store governs: its recorded scorecard decides, the changed file is never read
    ok("ingest", later, "--store", store, "--json")
    assert ok("audit", "--all", "--store", store, "--json")["differing"] == []
    [listed] = ok("score", "list", "--store", store, "--json")
    assert listed["digest"] == "sha256:" + hashlib.sha256(SHIPPED_FILE.encode()).hexdigest()


def test_a_scoring_candidate_is_what_if_and_shadow_run_like_the_engine(decided: str, tmp_path: Path) -> None:
    """A candidate that scores accounts (default-v2 under another version) decides as the engine did."""
    store = decided
    candidate = tmp_path / "v2b.toml"
    candidate.write_text(policy_text("default-v2").replace('version = "default-v2"', 'version = "default-v2b"'))
    whatif = ok("audit", "whatif", "--policy", str(candidate), "--jobs", "1", "--store", store, "--json")
    assert whatif["identical"] is True and whatif["facts"] > 1000

    ok("ingest", str(later_events(tmp_path)), "--store", store, "--shadow", str(candidate), "--json")
    shadow = ok("shadow", "report", "--store", store, "--json")
    assert shadow["candidate"]["version"] == "default-v2b" and shadow["facts_decided"] > 100
    assert shadow["identical"] is True and shadow["commands_by_type"]["candidate"]["SendNotice"] > 0
