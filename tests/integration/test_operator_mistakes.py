"""Operators' mistakes: one line on stderr, the exit code of its kind, never a traceback, nothing created.

Each case runs the real `fengkong` process as an operator would. Permission
cases drop the capabilities that let root read and write anything
(`setpriv`), so they hold for root (CI) and for anyone else alike. The table
in docs/reliability.md ("Operators' mistakes") lists the same cases: a test
checks that every exit code and message here is documented there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.cli.errors import Exit

REPO = Path(__file__).resolve().parents[2]
FENGKONG = str(Path(sys.executable).with_name("fengkong"))
SCENARIO = REPO / "tests" / "data" / "contract_scenario.jsonl"
NO_DAC = (
    ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
    if os.geteuid() == 0
    else []
)


def run(*args: str, cwd: Path, unprivileged: bool = False, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [*(NO_DAC if unprivileged else []), FENGKONG, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stdout, done.stderr


def a_store(cwd: Path, name: str = "s.db") -> str:
    code, _, err = run("ingest", str(SCENARIO), "--store", name, cwd=cwd)
    assert code == 0, err
    return name


@dataclass(frozen=True)
class Case:
    mistake: str
    setup: Callable[[Path], list[str]]  # prepares the folder, returns the command's arguments
    code: Exit
    message: str  # a regular expression the one line must match
    unprivileged: bool = False


def _missing_input(cwd: Path) -> list[str]:
    return ["ingest", "missing.jsonl", "--store", "s.db"]


def _unreadable_input(cwd: Path) -> list[str]:
    shutil.copy(SCENARIO, cwd / "in.jsonl")
    (cwd / "in.jsonl").chmod(0)
    return ["ingest", "in.jsonl", "--store", "s.db"]


def _directory_input(cwd: Path) -> list[str]:
    (cwd / "events").mkdir()
    return ["ingest", "events", "--store", "s.db"]


def _unwritable_store(cwd: Path) -> list[str]:
    a_store(cwd)
    (cwd / "s.db").chmod(0o444)
    (cwd).chmod(0o555)
    return ["ingest", str(SCENARIO), "--store", "s.db", "--dead-letter", str(cwd.parent / "letters.jsonl")]


def _not_sqlite(cwd: Path) -> list[str]:
    (cwd / "notes.db").write_text("these are my notes\n")
    return ["ingest", str(SCENARIO), "--store", "notes.db"]


def _foreign_sqlite(cwd: Path) -> list[str]:
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(cwd / "other.db") as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    connection.close()
    return ["account", "A1", "--store", "other.db"]


def _malformed_url(cwd: Path) -> list[str]:
    return ["account", "A1", "--store", "postgresql://analyst:pa55word@db.example:port/fengkong"]


def _no_broker(cwd: Path) -> list[str]:
    return ["publish", str(SCENARIO), "--bootstrap-servers", "127.0.0.1:1"]


def _unreachable(cwd: Path) -> list[str]:
    return ["account", "A1", "--store", "postgresql://analyst:pa55word@127.0.0.1:1/fengkong?connect_timeout=2"]


def _mistyped_store(command: list[str]) -> Callable[[Path], list[str]]:
    return lambda cwd: [*command, "--store", "mistyped.db"]


def _missing_output_dir(cwd: Path) -> list[str]:
    a_store(cwd)
    run("projections", "catch-up", "--store", "s.db", cwd=cwd)
    return ["export", "account_status", "-o", "no/such/folder/out.csv", "--store", "s.db"]


def _unwritable_output(cwd: Path) -> list[str]:
    a_store(cwd)
    run("projections", "catch-up", "--store", "s.db", cwd=cwd)
    (cwd / "locked").mkdir(mode=0o555)
    return ["export", "account_status", "-o", "locked/out.csv", "--store", "s.db"]


def _parquet_to_stdout(cwd: Path) -> list[str]:
    a_store(cwd)
    return ["export", "account_status", "--format", "parquet", "-o", "-", "--store", "s.db"]


def _full_disk(cwd: Path) -> list[str]:
    a_store(cwd)
    run("projections", "catch-up", "--store", "s.db", cwd=cwd)
    return ["export", "account_status", "-o", "/dev/full", "--store", "s.db"]


def _full_disk_letters(cwd: Path) -> list[str]:
    (cwd / "bad.jsonl").write_text('{"event_id": "x"}\n')
    return ["ingest", "bad.jsonl", "--store", "s.db", "--dead-letter", "/dev/full"]


def _demo_over_a_store(cwd: Path) -> list[str]:
    a_store(cwd)
    return ["demo", "--accounts", "5", "--days", "5", "--store", "s.db"]


def _unknown_account(cwd: Path) -> list[str]:
    a_store(cwd)
    return ["commands", "--account", "NOPE", "--store", "s.db"]


def _no_key(cwd: Path) -> list[str]:
    a_store(cwd)
    run("keys", "create", "--role", "admin", "--name", "root", "--store", "s.db", cwd=cwd)
    return ["keys", "create", "--role", "analyst", "--name", "ana", "--store", "s.db"]


def _analyst_acts(cwd: Path) -> list[str]:
    a_store(cwd)
    _, admin, _ = run("keys", "create", "--role", "admin", "--name", "root", "--store", "s.db", cwd=cwd)
    made = ("keys", "create", "--role", "analyst", "--name", "ana", "--store", "s.db", "--key", admin.strip())
    _, analyst, _ = run(*made, cwd=cwd)
    return ["held", "release", "--all", "--store", "s.db", "--key", analyst.strip()]


def _another_policy(cwd: Path) -> list[str]:
    a_store(cwd)
    text = (REPO / "engine" / "policies" / "default-v1.toml").read_text()
    (cwd / "dpd7.toml").write_text(text.replace('"default-v1"', '"dpd7-v1"').replace("due = 1", "due = 7"))
    return ["ingest", str(SCENARIO), "--store", "s.db", "--policy", "dpd7.toml"]


def _policy_recorded_otherwise(cwd: Path) -> list[str]:
    a_store(cwd)
    text = (REPO / "engine" / "policies" / "default-v1.toml").read_text()
    (cwd / "edited.toml").write_text(text.replace("max_per_window = 3", "max_per_window = 4"))
    return ["ingest", str(SCENARIO), "--store", "s.db", "--policy", "edited.toml"]


def _unknown_option(cwd: Path) -> list[str]:
    return ["ingest", "--no-such-option"]


# One case per line, as in the documented table.
CASES = [
    Case("input file missing", _missing_input, Exit.NO_INPUT, r"no file missing\.jsonl"),
    Case("input file unreadable", _unreadable_input, Exit.INPUT_UNREADABLE, r"cannot read in\.jsonl \(permission denied\)", True),
    Case("a directory given as the input file", _directory_input, Exit.NOT_A_FILE, r"events is a directory, not a file"),
    Case("store read-only", _unwritable_store, Exit.STORE_UNWRITABLE, r"(store cannot be written|cannot write)", True),
    Case("store is not SQLite", _not_sqlite, Exit.FOREIGN_STORE, r"notes\.db is not a fengkong store \(not an SQLite database\)"),
    Case("store is another program's SQLite", _foreign_sqlite, Exit.FOREIGN_STORE, r"other\.db is not a fengkong store \(an SQLite database of another program\)"),
    Case("--policy other than the store's active policy", _another_policy, Exit.BAD_SETTING, r"policy dpd7-v1 is not the active policy \(default-v1\): .*`fengkong policy propose`"),
    Case("--policy of a version recorded with other content", _policy_recorded_otherwise, Exit.BAD_SETTING, r"policy default-v1 is already recorded with other content .*new version"),
    Case("malformed database URL", _malformed_url, Exit.BAD_SETTING, r"store: not a valid postgresql:// URL \(check the host and port\)"),
    Case("database server unreachable", _unreachable, Exit.STORE_UNREACHABLE, r"cannot reach the store at postgresql://analyst:\*\*\*@127\.0\.0\.1:1/"),
    Case("no Kafka broker reachable", _no_broker, Exit.BROKER_UNREACHABLE, r"cannot reach a Kafka broker \(check --bootstrap-servers\)"),
    *(
        Case(f"mistyped --store ({' '.join(command)})", _mistyped_store(command), Exit.NO_STORE, r"no store at mistyped\.db")
        for command in (["account", "A1"], ["commands"], ["query", "accounts"], ["export", "account_status"], ["audit", "--all"], ["held", "list"])
    ),
    Case("output folder missing", _missing_output_dir, Exit.NO_OUTPUT_DIR, r"no directory no/such/folder for out\.csv"),
    Case("output not writable", _unwritable_output, Exit.OUTPUT_UNWRITABLE, r"cannot write locked/out\.csv \(permission denied\)", True),
    Case("Parquet to stdout", _parquet_to_stdout, Exit.OUTPUT_UNWRITABLE, r"Parquet is not written to stdout \(it needs a file\): give -o FILE"),
    Case("disk full (export)", _full_disk, Exit.DISK_FULL, r"no space left on the device"),
    Case("disk full (dead letters)", _full_disk_letters, Exit.DISK_FULL, r"no space left on the device"),
    Case("demo over a store it did not create", _demo_over_a_store, Exit.DEMO_REFUSED, r"s\.db holds a store demo did not create: give --force to replace it"),
    Case("commands --account of an unknown account", _unknown_account, Exit.FAILED, r"no account 'NOPE' in the store"),
    Case("`fengkong keys` without a key", _no_key, Exit.ACCESS_REFUSED, r"give --key or set FENGKONG_KEY"),
    Case("an operator's command with an analyst's key", _analyst_acts, Exit.ACCESS_REFUSED, r"this needs the operator role; the key has analyst"),
    Case("unknown option (click)", _unknown_option, Exit.USAGE, r"No such option '--no-such-option'"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.mistake for case in CASES])
def test_a_mistake_is_one_line_and_its_exit_code(case: Case, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    try:
        args = case.setup(cwd)
        before = sorted(path.name for path in cwd.iterdir())
        code, out, err = run(*args, cwd=cwd, unprivileged=case.unprivileged)
        after = sorted(path.name for path in cwd.iterdir())
    finally:
        for path in [cwd, *cwd.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    assert "Traceback" not in err and "Error" in lines[-1], err
    if case.code != Exit.USAGE:  # click's usage errors print the usage line first
        assert len(lines) == 1, err
    assert re.search(case.message, lines[-1]), lines[-1]
    assert "pa55word" not in err + out
    assert out == "", out  # results only, and there are none
    if case.code in (Exit.NO_STORE, Exit.FOREIGN_STORE, Exit.BAD_SETTING, Exit.STORE_UNREACHABLE):
        assert after == before  # nothing created where the operator pointed


def test_demo_replaces_its_own_store_and_with_force_any_store(tmp_path: Path) -> None:
    code, _, err = run("demo", "--accounts", "5", "--days", "5", "--store", "d.db", "--json", cwd=tmp_path)
    assert code == 0, err
    code, _, err = run("demo", "--accounts", "5", "--days", "5", "--store", "d.db", "--json", cwd=tmp_path)
    assert code == 0, err  # its own store: replaced
    a_store(tmp_path, "real.db")
    code, _, err = run("demo", "--accounts", "5", "--days", "5", "--store", "real.db", "--append", cwd=tmp_path)
    assert code == Exit.DEMO_REFUSED, err
    code, _, err = run(
        "demo", "--accounts", "5", "--days", "5", "--store", "real.db", "--force", "--json", cwd=tmp_path
    )
    assert code == 0, err
    code, out, _ = run("account", "C2", "--store", "real.db", cwd=tmp_path)
    assert code == Exit.FAILED  # the replaced store's accounts are gone


@pytest.mark.postgres
def test_demo_never_writes_into_a_postgres_store_with_other_accounts(tmp_path: Path, postgres_url: str) -> None:
    code, _, err = run("demo", "--accounts", "5", "--days", "5", "--store", postgres_url, "--json", cwd=tmp_path)
    assert code == 0, err
    code, _, err = run("demo", "--accounts", "5", "--days", "5", "--store", postgres_url, "--json", cwd=tmp_path)
    assert code == 0, err  # only its own accounts there: it may run again
    a_store(tmp_path, postgres_url)
    for extra in ([], ["--force"], ["--append"]):
        code, _, err = run("demo", "--accounts", "5", "--days", "5", "--store", postgres_url, *extra, cwd=tmp_path)
        assert code == Exit.DEMO_REFUSED, err
        assert "accounts demo did not create: demo never writes into it" in err


def test_every_exit_code_and_message_is_in_the_documented_table() -> None:
    text = (REPO / "docs" / "reliability.md").read_text()
    section = text.split("## Operators' mistakes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    for kind in Exit:
        assert any(f"| {int(kind)} |" in row for row in rows), f"exit code {int(kind)} ({kind.name}) undocumented"
    for case in CASES:
        name = case.mistake.split(" (")[0]  # "mistyped --store (account A1)": one row for all those commands
        assert any(name in row and f"| {int(case.code)} |" in row for row in rows), case.mistake
