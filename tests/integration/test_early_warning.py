"""default-v2 on a generated portfolio (`fengkong demo`, with its notice gateway), on both stores.

The bar of the issue: a watch-list account is visible before its first
overdue; a broken promise escalates (`promise_broken` to `ops`). Besides:
every decision that used the score names its scorecard and reason codes,
audit replay derives them all again, and the read models of the watch list,
the notices and the collection queue agree with the decisions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from adapters.cli import cli
from adapters.store import queries
from adapters.store.tables import ProjectionDatabase, table_name
from projections.decisions import DECISIONS
from projections.notices import NOTICE_RATES, NOTICES
from projections.watchlist import WATCHLIST
from tests.support.wiring import tables_at


@pytest.fixture
def demo(store: str) -> Iterator[tuple[str, ProjectionDatabase]]:
    runner = CliRunner()
    with runner.isolated_filesystem():  # on PostgreSQL the demo's dead letters go to the working directory
        result = runner.invoke(cli, ["demo", "--accounts", "300", "--days", "200", "--no-score", "--store", store])
    assert result.exit_code == 0, result.output
    assert "early warning" in result.output and "on the watch list since" in result.output
    db = tables_at(store)
    try:
        yield store, db
    finally:
        db.close()


def _decisions(db: ProjectionDatabase, rule: str) -> list[dict]:
    rows = db.query(f"SELECT {', '.join(DECISIONS.column_names)} FROM {table_name(DECISIONS)} WHERE rule = ?", [rule])
    return [db.decode_row(DECISIONS, row) for row in rows]


def test_a_watched_account_is_visible_before_its_first_overdue(demo: tuple[str, ProjectionDatabase]) -> None:
    _, db = demo
    found = queries.early_warning(db, limit=3)
    assert found.watched_then_overdue >= 1 and found.first
    for first in found.first:
        assert first["first_watch"] < first["first_overdue"]
        row = db.query(f"SELECT status, since FROM {table_name(WATCHLIST)} WHERE account_id = ?", [first["account_id"]])
        assert row, "the watch list shows the account"
    watching = queries.watchlist(db)
    assert all(row["status"] == "watching" and row["ended_at"] is None for row in watching.rows)
    ended = queries.watchlist(db, ended=True, limit=1000)
    assert {row["status"] for row in ended.rows} <= {"watching", "overdue", "repaid"}
    starts = {row["account_id"] for row in _decisions(db, "watch.start")}
    assert {row["account_id"] for row in ended.rows} == starts


def test_a_broken_promise_escalates_to_operations(demo: tuple[str, ProjectionDatabase]) -> None:
    _, db = demo
    broken = _decisions(db, "promise.broken")
    assert broken, "the demo breaks some promises"
    for decision in broken:
        command = decision["command"]
        assert (command["type"], command["template"], command["channel"]) == ("SendNotice", "promise_broken", "ops")
        assert decision["facts"]["paid_since_promise"] is not None
    kept = _decisions(db, "promise.kept")
    assert kept and all(decision["command"] is None for decision in kept)
    rates = {(row["template"], row["channel"]): row for row in queries.notice_rates(db)}
    assert sum(row["kept"] for row in rates.values()) == len(kept)
    assert sum(row["broken"] for row in rates.values()) == len(broken)
    assert rates["promise_broken", "ops"]["sent"] == len(broken)
    results = db.query(f"SELECT promise_result, count(*) FROM {table_name(NOTICES)} GROUP BY promise_result")
    assert dict(results)["broken"] == len(broken)
    sms = rates["overdue_d1", "sms"]
    assert 0 < sms["contact_rate"] < 1 and sms["promise_rate"] > 0
    assert db.query(f"SELECT count(*) FROM {table_name(NOTICE_RATES)} WHERE channel = 'app_push'")[0][0] > 0
    queue = queries.collection_queue(db, limit=1000)
    assert any(row["last_outcome"] for row in queue.rows)


def test_scored_decisions_name_their_scorecard_and_reasons_and_replay(demo: tuple[str, ProjectionDatabase]) -> None:
    store, db = demo
    scored = [
        decision
        for rule in ("score.tier", "review.auto_approve", "review.auto_approve_withheld", "notice.overdue")
        for decision in _decisions(db, rule)
        if rule == "score.tier" or "score" in decision["facts"]
    ]
    assert len({decision["rule"] for decision in scored}) == 4
    for decision in scored:
        score = decision["facts"].get("score", decision["facts"])
        assert score["scorecard"] == "pd-demo-v1" and len(score["reasons"]) <= 3
        assert decision["policy_version"] == "default-v2"
    result = CliRunner().invoke(cli, ["audit", "--all", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
