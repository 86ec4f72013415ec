"""Read models over a real store (SQLite file and PostgreSQL server): the bar of the projections issue."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cli import cli
from adapters.cli.inspect import account_view
from adapters.rebuild.parallel import catch_up as parallel_catch_up
from adapters.rebuild.parallel import groups
from adapters.rebuild.parallel import rebuild as parallel_rebuild
from adapters.settings import Settings
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.tables import POSITIONS, ProjectionDatabase
from adapters.synthetic.portfolio import Portfolio
from events.recorded import DELINQUENCY_BUCKETS
from projections.account_status import ACCOUNT_STATUS
from projections.base import Projection
from projections.collection import COLLECTION_QUEUE
from projections.delinquency import DELINQUENCY_DAILY, ROLL_RATES
from projections.rebuild import BulkRebuild
from projections.registry import BY_NAME, PROJECTIONS, PUBLIC_TABLES
from projections.runner import ProjectionRunner
from tests.readmodels import histories, locked_by_commands, memory_reference, snapshot
from tests.support.wiring import open_engine, runner_at, tables_at

REPO = Path(__file__).resolve().parents[2]


def run_demo(store: str, accounts: int = 200, days: int = 120, *flags: str) -> None:
    """`fengkong demo` on this store, in a folder of its own: on PostgreSQL its dead letters go to the working
    directory, which would otherwise be the repository's root."""
    runner = CliRunner()
    with runner.isolated_filesystem():
        result = runner.invoke(
            cli, ["demo", "--accounts", str(accounts), "--days", str(days), "--store", store, "--json", *flags]
        )
    assert result.exit_code == 0, result.output


@contextmanager
def opened(store: str) -> Iterator[ProjectionDatabase]:
    db = tables_at(store)
    try:
        yield db
    finally:
        db.close()


def test_demo_leaves_every_read_model_populated_and_consistent_with_the_commands(store: str) -> None:
    run_demo(store)
    with opened(store) as db:
        rows = snapshot(db)
        for name in PUBLIC_TABLES:
            assert rows[name], f"read model {name} is empty after the demo"
        locked = {row["account_id"] for row in rows["account_status"] if row["card_locked"]}
        assert locked == locked_by_commands(store)
        assert locked, "the demo locks some cards"
        engine = open_engine(store)
        head = engine.head()
        assert {row["position"] for row in rows[POSITIONS]} == {head}
        # The read model agrees with the aggregate that `fengkong account` loads.
        for row in rows["account_status"]:
            account = engine.account(row["account_id"])
            assert account is not None
            view = account_view(account)
            assert row["status"] == view["status"]
            assert row["card_locked"] == view["card_locked"]
            assert row["credit_line_suspended"] == view["credit_line_suspended"]
            assert row["credit_limit"] == Decimal(view["credit_limit"])
            assert row["original_limit"] == Decimal(view["original_limit"])
            assert row["overdue_outstanding"] == Decimal(view["overdue_outstanding"])
            assert row["outstanding"] == Decimal(view["outstanding"])
            assert row["days_past_due"] == view["days_past_due"]
            assert row["score"] == view["score"]
            assert row["bureau_flag"] == view["bureau_flag"]
            assert row["active_plan_id"] == view["active_plan"]
            assert row["notices_dropped"] == view["notices_dropped"]
            review = view["review"]
            assert row["review_request_id"] == (review and review["request_id"])
            assert (row["review_deadline"] and row["review_deadline"].isoformat()) == (review and review["deadline"])
        engine.close()
        # SQL rows equal the pure in-memory computation of the same projections.
        reference = memory_reference(store)
        for name, expected in reference.items():
            assert rows[name] == expected, f"{name} differs from the in-memory reference"


def test_portfolio_figures_hang_together(store: str) -> None:
    run_demo(store, accounts=150, days=100)
    with opened(store) as db:
        accounts = db.table_rows(ACCOUNT_STATUS)
        daily = db.table_rows(DELINQUENCY_DAILY)
        rolls = db.table_rows(ROLL_RATES)
        queue = db.table_rows(COLLECTION_QUEUE)
    last = max(row["business_date"] for row in daily)
    today = {row["bucket"]: row for row in daily if row["business_date"] == last}
    for bucket in DELINQUENCY_BUCKETS:
        members = [a for a in accounts if a["delinquency_bucket"] == bucket]
        assert today[bucket]["accounts"] == len(members)
        assert today[bucket]["overdue_balance"] == sum((a["overdue_outstanding"] for a in members), Decimal("0.00"))
    # Every account at the previous close went somewhere: the matrix's rows add up.
    by_date: dict[object, dict[str, int]] = {}
    for row in daily:
        by_date.setdefault(row["business_date"], {})[row["bucket"]] = row["accounts"]
    for row in rolls:
        if row["from_bucket"] != "new":
            assert row["from_accounts"] == by_date[row["previous_date"]][row["from_bucket"]]
    sums: dict[tuple[object, str], int] = {}
    for row in rolls:
        sums[(row["business_date"], row["from_bucket"])] = (
            sums.get((row["business_date"], row["from_bucket"]), 0) + row["accounts"]
        )
    for row in rolls:
        if row["from_bucket"] != "new":
            assert sums[(row["business_date"], row["from_bucket"])] == row["from_accounts"]
    assert any(row["from_bucket"] != row["to_bucket"] and row["from_bucket"] != "new" for row in rolls)
    # The collection queue is exactly the accounts with an overdue balance.
    assert {row["account_id"] for row in queue} == {a["account_id"] for a in accounts if a["overdue_outstanding"] > 0}


def _catch_up_in_subprocess(store: str, page: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from adapters.cli import main; main()",
            "projections",
            "catch-up",
            "--page",
            str(page),
            "--store",
            store,
            "--json",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_mid_catch_up_then_restarted_equals_a_clean_rebuild(store: str) -> None:
    engine = open_engine(store)
    for day in Portfolio(120, 90, seed=11, noise=True).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    head = engine.head()
    engine.close()
    first = runner_at(store, page=7)  # one page applied: the catch-up goes on page by page (at 0 it would load
    first.run_once()  # the read models in memory, and its positions would move once, at the end)
    first.close()
    worker = _catch_up_in_subprocess(store, page=7)
    seen = 0
    with opened(store) as db:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            positions = [n for _, n in db.query(f"SELECT projection, position FROM {POSITIONS}")]
            seen = min(positions)
            if seen > head // 3:
                break
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        positions = [n for _, n in db.query(f"SELECT projection, position FROM {POSITIONS}")]
    assert worker.returncode == -signal.SIGKILL
    assert 0 < min(positions) < head, f"not killed partway: positions {positions}, head {head}"
    runner = runner_at(store)
    runner.catch_up()
    with opened(store) as db:
        restarted = snapshot(db)
    runner.rebuild()
    runner.close()
    with opened(store) as db:
        rebuilt = snapshot(db)
    assert restarted == rebuilt


def test_two_runners_at_once_apply_every_event_once(store: str) -> None:
    engine = open_engine(store)
    for day in Portfolio(80, 60, seed=5, noise=True).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    engine.close()
    runners = [runner_at(store, page=25) for _ in range(2)]
    errors: list[BaseException] = []

    def work(runner: ProjectionRunner) -> None:
        try:
            runner.catch_up()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with opened(store) as db:
        concurrent = snapshot(db)
    runners[0].rebuild()
    for runner in runners:
        runner.close()
    with opened(store) as db:
        assert snapshot(db) == concurrent


def test_writers_of_different_read_models_at_once_wait_for_each_other_and_never_deadlock(store: str) -> None:
    """Every write locks all the positions before it checks its own (a page, a rebuild group's load); writers of
    different read models at once, as the processes of a parallel rebuild are, must queue on those locks rather
    than take them in orders that deadlock (PostgreSQL locks rows in the order its scan meets them)."""
    names = [p.name for p in PROJECTIONS]
    runners = [runner_at(store) for _ in names]
    writes = 200  # each: enough that the scan's order deadlocked every run of six (PostgreSQL, 8 writers)
    errors: list[BaseException] = []

    def work(runner: ProjectionRunner, name: str) -> None:
        try:
            for position in range(writes):
                runner.store.write([], {name: position}, {name: position + 1}, bulk=False)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(runners, names, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    positions = {status.name: status.position for status in runners[0].status()}
    for runner in runners:
        runner.close()
    assert errors == []
    assert {name: positions[name] for name in names} == dict.fromkeys(names, writes)


def test_a_reset_beside_a_writer_of_other_read_models_never_deadlocks(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild process resets its group while another writes pages of other read models (another group's load,
    a follower): the reset locks every position first, in the writes' order, so they queue. It used to upsert its
    group's rows one by one in the group's order, and a write locking them all in the names' order in between
    deadlocked with it. Each read model's reset is slowed, so that writes come in the middle of one."""
    reset_one = SqlProjectionStore._reset

    def slow_reset(self: SqlProjectionStore, projection: Projection, indexes: bool = True) -> None:
        reset_one(self, projection, indexes)
        time.sleep(0.02)

    monkeypatch.setattr(SqlProjectionStore, "_reset", slow_reset)
    group = [BY_NAME["decisions"], BY_NAME["collection"]]  # not in the names' order
    resetter, writer = runner_at(store), runner_at(store)
    done = threading.Event()
    errors: list[BaseException] = []

    def resets() -> None:
        try:
            for _ in range(10):
                resetter.store.reset(group)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            done.set()

    written = [0]

    def writes() -> None:
        try:
            while not done.is_set():
                position = written[0]
                writer.store.write([], {"credit_history": position}, {"credit_history": position + 1}, bulk=False)
                written[0] += 1
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=resets), threading.Thread(target=writes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    resetter.close()
    writer.close()
    assert errors == []
    assert written[0] > 0  # the writes went on beside the resets


def test_a_rebuild_that_spills_and_one_on_two_processes_give_the_rows_of_live_processing(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written out and dropped from memory every few notifications (append-only tables streamed), and the
    projections split into two groups rebuilt by two processes, come out as the live runner wrote them."""
    engine = open_engine(store)
    for day in Portfolio(60, 50, seed=5, noise=True).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    engine.close()
    runner = runner_at(store)
    runner.catch_up()
    with opened(store) as db:
        live = snapshot(db)
    spilling = functools.partial(BulkRebuild, read_page=40, checkpoint=40, budget=10)
    monkeypatch.setattr("projections.runner.BulkRebuild", spilling)
    runner.rebuild()
    runner.close()
    with opened(store) as db:
        assert snapshot(db) == live
    monkeypatch.undo()
    rebuilt = parallel_rebuild(Settings(store=store), jobs=2)
    assert rebuilt.jobs == 2 and rebuilt.notifications > 0
    with opened(store) as db:
        assert snapshot(db) == live
    # A process per read model asked for: only as many start as make the slowest group lighter, same rows.
    useful = len(groups(PROJECTIONS, len(PROJECTIONS)))
    assert useful < len(PROJECTIONS)
    command = ["projections", "rebuild", "--jobs", str(len(PROJECTIONS)), "--store", store]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith(f"on {useful} processes")
    with opened(store) as db:
        assert snapshot(db) == live


@pytest.mark.parametrize("jobs", [1, 2])
def test_catching_up_loads_fresh_read_models_in_memory_with_the_rows_of_page_by_page(store: str, jobs: int) -> None:
    """The command line's catch-up loads the read models at position 0 as a rebuild does and pages on with the
    rest: the same rows as every page the live way, and only the fresh ones are loaded."""
    engine = open_engine(store)
    for day in Portfolio(50, 40, seed=6, noise=True).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    engine.close()
    settings = Settings(store=store, projection_page=50)
    runner = runner_at(store, page=50)
    runner.catch_up()
    with opened(store) as db:
        live = snapshot(db)
    head = runner.head()
    assert parallel_catch_up(settings, jobs) == (0, head, ())  # nothing to do
    runner.store.reset([p for p in PROJECTIONS if p.name in ("credit_history", "delinquency")])
    runner.close()
    assert parallel_catch_up(settings, jobs) == (head, head, ("credit_history", "delinquency"))
    with opened(store) as db:
        assert snapshot(db) == live


def test_the_catch_up_command_names_the_read_models_it_loaded(store: str) -> None:
    """`projections catch-up` says which read models it loaded in memory (the JSON's `loaded`, the line's end):
    every one on a store whose read models never ran, none once they are current."""
    engine = open_engine(store)
    for day in Portfolio(30, 20, seed=3, noise=True).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    engine.close()
    command = ["projections", "catch-up", "--page", "40", "--jobs", "1", "--store", store]
    first = CliRunner().invoke(cli, [*command, "--json"])
    assert first.exit_code == 0, first.output
    assert orjson.loads(first.stdout)["loaded"] == [p.name for p in PROJECTIONS]
    again = CliRunner().invoke(cli, command)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("0 events applied") and "loaded in memory" not in again.stdout


@pytest.mark.parametrize("jobs", [1, 2])
def test_rebuilding_named_read_models_reads_the_log_once_and_leaves_the_others_alone(store: str, jobs: int) -> None:
    """On a store whose read models never ran, rebuilding two of them reads the log once for them and neither
    applies nor counts the rest (their catch-up went through the live path, page by page)."""
    engine = open_engine(store)
    for day in Portfolio(40, 30, seed=4, noise=True).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    engine.close()
    head = runner_at(store).head()
    chosen = ["credit_history", "decisions"]
    rebuilt = parallel_rebuild(Settings(store=store), chosen, jobs=jobs)
    assert rebuilt.notifications == head
    runner = runner_at(store)
    positions = {status.name: status.position for status in runner.status()}
    runner.close()
    assert {name: positions[name] for name in chosen} == dict.fromkeys(chosen, head)
    assert all(position == 0 for name, position in positions.items() if name not in chosen)


def test_rebuild_groups_are_balanced_by_weight_and_hold_every_projection_once() -> None:
    heaviest = max(PROJECTIONS, key=lambda p: p.weight)
    previous = sum(p.weight for p in PROJECTIONS)
    for jobs in range(1, len(PROJECTIONS) + 2):
        parts = groups(PROJECTIONS, jobs)
        assert 1 <= len(parts) <= jobs and all(parts)
        assert sorted(p.name for group in parts for p in group) == sorted(p.name for p in PROJECTIONS)
        weights = [sum(p.weight for p in group) for group in parts]
        assert max(weights) - min(weights) <= heaviest.weight  # greedy: no group exceeds another by one item more
        assert max(weights) <= previous  # a process more never makes the slowest group slower
        previous = max(weights)
    # A projection is never split: once the heaviest is a group of its own, more processes would only re-read the log.
    fewest = next(jobs for jobs in range(1, len(PROJECTIONS) + 1) if [heaviest] in groups(PROJECTIONS, jobs))
    assert len(groups(PROJECTIONS, len(PROJECTIONS))) == fewest


def test_follower_applies_new_events_live(store: str) -> None:
    engine = open_engine(store)
    days = list(Portfolio(60, 40, seed=3, noise=True).days_of_events())
    for day in days[:20]:
        engine.process([orjson.dumps(event) for event in day])
    runner = runner_at(store)
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop, 0.02))
    follower.start()
    try:
        for day in days[20:]:
            engine.process([orjson.dumps(event) for event in day])
            head = engine.head()
            assert runner.wait_for(head, timeout=30), "the follower fell behind"
    finally:
        stop.set()
        follower.join(30)
    engine.close()
    with opened(store) as db:
        live = snapshot(db)
    runner.rebuild()
    runner.close()
    with opened(store) as db:
        assert snapshot(db) == live


def _hypothesis_store(kind: str, postgres_server: object | None) -> str:
    if kind == "sqlite":
        return str(Path(tempfile.mkdtemp(prefix="rm-")) / "store.db")
    return postgres_server.create_database(f"rm_{uuid.uuid4().hex[:12]}")  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rebuild_yields_exactly_the_rows_of_live_processing(kind: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("postgres_server") if kind == "postgres" else None
    examples = int(os.environ.get("FENGKONG_RM_EXAMPLES", "12" if kind == "sqlite" else "5"))

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(history=histories(), batch=st.integers(1, 9))
    def check(history: list[bytes], batch: int) -> None:
        store = _hypothesis_store(kind, server)
        engine = open_engine(store)
        runner = runner_at(store, page=batch * 3)
        try:
            for start in range(0, len(history), batch):
                engine.process(history[start : start + batch])
                runner.catch_up()  # live: the read models follow each small ingest
            with opened(store) as db:
                live = snapshot(db)
            runner.rebuild()
            with opened(store) as db:
                rebuilt = snapshot(db)
        finally:
            runner.close()
            engine.close()
        assert rebuilt == live
        reference = memory_reference(store)
        assert {name: live[name] for name in reference} == reference

    check()


@pytest.mark.postgres
def test_follower_survives_a_database_restart(postgres_server: Any, postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    days = list(Portfolio(40, 30, seed=4, noise=True).days_of_events())
    for day in days[:10]:
        engine.process([orjson.dumps(event) for event in day])
    runner = runner_at(postgres_url)
    runner.catch_up()
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop, 0.02, 0.2))
    follower.start()
    try:
        postgres_server.restart()
        for day in days[10:]:
            engine.process([orjson.dumps(event) for event in day])
        head = engine.head()
        assert runner.wait_for(head, timeout=60), "the follower did not recover from the restart"
    finally:
        stop.set()
        follower.join(30)
    engine.close()
    with opened(postgres_url) as db:
        live = snapshot(db)
    runner.rebuild()
    runner.close()
    with opened(postgres_url) as db:
        assert snapshot(db) == live
