"""A `fengkong projections rebuild` process SIGKILLed mid-rebuild, then restarted with `catch-up`.

FENGKONG_FAULT kills it right after the tables were dropped and recreated,
inside the in-memory rebuild's write (rows written, positions not yet
moved), or, once the tables were emptied, a `catch-up`: in its own in-memory
load of the emptied read models (it loads read models at position 0 as a
rebuild does), or, once a page was applied again (so none is at 0), inside
its n-th page's transaction. The restarted runner continues from the positions that committed,
and must end with exactly the rows of a clean rebuild; `fengkong reconcile`
checks the read models against the store (positions at the head,
account_status agreeing with the commands) and the store against the input.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from adapters.cli import cli
from adapters.runtime.faults import FAULT_ENV
from adapters.synthetic.portfolio import Portfolio
from tests.kafka.support import FENGKONG
from tests.readmodels import snapshot
from tests.reliability.support import reconcile
from tests.support.wiring import runner_at, tables_at

LONG = os.environ.get("FENGKONG_LONG") == "1"
PAGE = 150
REPO = Path(__file__).resolve().parents[2]


def ingested(store: str, work: Path) -> tuple[Path, Path]:
    """A noisy portfolio in a JSONL file, ingested into `store` with its dead letters; read models built."""
    lines = work / "events.jsonl"
    lines.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in Portfolio(100, 70, seed=9, noise=True).events()))
    letters = work / "dead-letters.jsonl"
    result = CliRunner().invoke(cli, ["ingest", str(lines), "--store", store, "--dead-letter", str(letters)])
    assert result.exit_code == 0, result.output
    runner = runner_at(store)
    runner.catch_up()
    runner.close()
    return lines, letters


def projections(args: list[str], store: str, fault: str | None, log: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, FAULT_ENV: fault} if fault else dict(os.environ)
    with open(log, "ab") as out:
        return subprocess.run(
            [FENGKONG, "-v", "projections", *args, "--store", store, "--page", str(PAGE), "--json"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            timeout=120,
            check=False,
        )


def killed_then_caught_up(
    store: str, kills: list[tuple[str, str]], work: Path, lines: Path, letters: Path, exit_code: int = -signal.SIGKILL
) -> None:
    """Run each (command, fault) to its SIGKILL, then a clean catch-up; rows must equal a clean rebuild.

    A rebuild on several processes whose worker is killed ends with `exit_code` 1 and one line saying so.
    """
    log = work / "projections.log"
    for command, fault in kills:
        if (command, fault) == ONE_PAGE:
            runner = runner_at(store, page=PAGE)
            runner.run_once()
            runner.close()
            continue
        killed = projections(command.split(), store, fault, log)
        expected = exit_code if "--jobs 1" not in command else -signal.SIGKILL
        assert killed.returncode == expected, log.read_text()[-2000:]
        assert f"fault injection: SIGKILL at {fault.rpartition(':')[0]}" in log.read_text()
    gaps = reconcile(store, "--input", str(lines), "--dead-letter", str(letters), expect_ok=False)["gaps"]
    assert set(gaps) == {"projection_behind"}, "the store is intact, only the read models are behind"
    assert projections(["catch-up"], store, None, log).returncode == 0, log.read_text()[-2000:]
    reconcile(store, "--input", str(lines), "--dead-letter", str(letters))
    db = tables_at(store)
    try:
        resumed = snapshot(db)
        runner = runner_at(store)
        runner.rebuild()
        runner.close()
        assert snapshot(db) == resumed, "resuming after the kill gives the rows of a clean rebuild"
    finally:
        db.close()


RESET = ("rebuild --jobs 1", "projections.after_reset:1")  # passed once per rebuild
BULK_WRITE = ("rebuild --jobs 1", "projections.in_bulk_write:1")  # a history this small is written once, at the end


LOAD_WRITE = ("catch-up --jobs 1", "projections.in_bulk_write:1")  # read models at 0: catch-up loads them in memory
ONE_PAGE = ("one page, in this process", "")  # not a command: every read model one page on from 0


def page_kill(n: int) -> list[tuple[str, str]]:
    """Read models emptied by a killed rebuild and one page applied again, then a catch-up (page by page) killed in
    its n-th page."""
    return [RESET, ONE_PAGE, ("catch-up", f"projections.in_page:{n}")]


def test_sqlite_projection_rebuild_killed_at_chosen_points_then_resumed(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    lines, letters = ingested(str(base / "store.db"), base)
    head = runner_at(str(base / "store.db"))
    pages = head.head() // PAGE
    head.close()
    tried: list[list[tuple[str, str]]] = []

    @settings(
        max_examples=8 if LONG else 1,
        deadline=None,
        phases=[Phase.explicit, Phase.generate] if LONG else [Phase.explicit],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        kills=st.one_of(
            st.just([RESET]),
            st.just([BULK_WRITE]),
            st.just([RESET, LOAD_WRITE]),
            st.integers(1, pages - 2).map(page_kill),
        )
    )
    @example(kills=[RESET])
    @example(kills=[BULK_WRITE])
    @example(kills=[RESET, LOAD_WRITE])
    @example(kills=page_kill(pages // 2))
    def check(kills: list[tuple[str, str]]) -> None:
        work = tmp_path / f"example{len(tried)}"
        work.mkdir()
        for name in (
            "store.db",
            "store.db-wal",
            "store.db-shm",
            "store.master-key",
        ):  # the key: sealed data stays readable
            if (base / name).exists():
                shutil.copy(base / name, work / name)
        tried.append(kills)
        killed_then_caught_up(str(work / "store.db"), kills, work, lines, letters)

    check()
    print(f"\nprojection rebuild kills: {tried}")


def test_sqlite_rebuild_on_two_processes_killed_in_their_bulk_writes_then_resumed(tmp_path: Path) -> None:
    """Each group's process is killed in its own bulk write; the command says so (exit 1) and catch-up resumes."""
    lines, letters = ingested(str(tmp_path / "store.db"), tmp_path)
    kills = [("rebuild --jobs 2", "projections.in_bulk_write:1")]
    killed_then_caught_up(str(tmp_path / "store.db"), kills, tmp_path, lines, letters, exit_code=1)
    assert "a rebuild process died" in (tmp_path / "projections.log").read_text()


@pytest.mark.postgres
def test_postgres_projection_rebuild_killed_inside_a_page_then_resumed(postgres_url: str, tmp_path: Path) -> None:
    lines, letters = ingested(postgres_url, tmp_path)
    killed_then_caught_up(postgres_url, page_kill(4), tmp_path, lines, letters)


@pytest.mark.postgres
def test_postgres_projection_rebuild_killed_in_its_bulk_write_then_resumed(postgres_url: str, tmp_path: Path) -> None:
    lines, letters = ingested(postgres_url, tmp_path)
    killed_then_caught_up(postgres_url, [BULK_WRITE], tmp_path, lines, letters)


def test_reconcile_reports_read_models_never_built_as_a_note_not_a_gap(tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in Portfolio(20, 20, seed=2).events()))
    assert CliRunner().invoke(cli, ["ingest", str(lines), "--store", store]).exit_code == 0
    report = reconcile(store, "--input", str(lines))
    assert "read models not checked" in report["notes"]
