"""`fengkong` commands load only the clients they use: no Kafka client, pyarrow, web server or PostgreSQL driver
otherwise.

Every operator waits for the command line's start on every command, and
importing them took a third of it (docs/architecture.md, "A new command").
Each case runs a real process and reports, as it exits, which of them it had
loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
HEAVY = ("kafka", "pyarrow", "uvicorn", "fastapi", "psycopg")

PROBE = f"""
import atexit, sys
atexit.register(lambda: print("loaded:", *sorted(n for n in {HEAVY!r} if n in sys.modules), file=sys.stderr))
from adapters.cli import main
sys.argv = ["fengkong", *sys.argv[1:]]
main()
"""


def loaded(*args: str, cwd: Path, exit_code: int = 0) -> list[str]:
    """The heavy modules `fengkong ARGS` had loaded when it exited (with `exit_code`)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == exit_code, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("loaded:")]
    return line.split()[1:]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("startup")
    loaded("ingest", str(DATA / "contract_scenario.jsonl"), "--store", "s.db", cwd=folder)
    loaded("projections", "catch-up", "--store", "s.db", cwd=folder)
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["schema"],
        ["ingest", str(DATA / "contract_scenario.jsonl"), "--store", "again.db"],
        ["query", "accounts", "--store", "s.db"],
        ["export", "account_status", "--store", "s.db", "-o", "out.csv"],
        ["audit", "--all", "--store", "s.db"],
        ["reconcile", "--input", str(DATA / "contract_scenario.jsonl"), "--no-commands", "--store", "s.db"],
        ["worker", "--help"],
        ["serve", "--help"],
    ],
    ids=lambda args: " ".join(a for a in args if "/" not in a),
)
def test_a_command_that_needs_none_of_them_loads_none(store: Path, args: list[str]) -> None:
    assert loaded(*args, cwd=store) == []


def test_the_probe_sees_a_client_a_command_does_load(store: Path) -> None:
    """The control: a Parquet export loads pyarrow, and the probe says so."""
    assert loaded("export", "account_status", "--format", "parquet", "--store", "s.db", cwd=store) == ["pyarrow"]


def test_a_postgresql_store_loads_its_driver_and_its_errors_are_still_one_line(store: Path) -> None:
    """The control for psycopg: a PostgreSQL URL loads it, and an unreachable server is still the one-line
    mistake (exit 11, docs/reliability.md) although nothing imported psycopg before the command ran."""
    url = "postgresql://fengkong@127.0.0.1:1/nowhere?connect_timeout=2"
    assert loaded("query", "accounts", "--store", url, cwd=store, exit_code=11) == ["psycopg"]
