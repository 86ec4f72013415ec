"""Writes the golden store: a small SQLite store recorded by stored format 1, kept forever.

After this wave stored formats are versioned and upcast, never rewritten: every
later version of the engine must read, replay and audit this file as it is
(tests/integration/test_golden_store.py does, on every run). Run this again
only to add a golden store of a NEW format beside this one, never to replace it:

    python -m tests.data.golden.make_golden

`make_sealed.py` wrote the second golden store beside it, with what format 1
has stored since (sealed personal data, the brake, operators, forgets).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import orjson

from adapters.synthetic.portfolio import Portfolio
from tests.support.wiring import open_engine

HERE = Path(__file__).parent
STORE = HERE / "format-1.db"
EXPECTED = HERE / "format-1.expected.json"
SCENARIO = HERE.parent / "contract_scenario.jsonl"


def main() -> None:
    for leftover in (STORE, Path(f"{STORE}-wal"), Path(f"{STORE}-shm")):
        leftover.unlink(missing_ok=True)
    engine = open_engine(str(STORE))
    lines = SCENARIO.read_bytes().splitlines()
    lines += [orjson.dumps(event) for event in Portfolio(40, 240, seed=3, noise=True).events()]
    results = list(engine.ingest(lines, batch_size=500))
    commands = [command.model_dump(mode="json") for command in engine.commands()]
    accounts = engine.account_ids()
    engine.close()
    fold(STORE)
    write_expected(EXPECTED, lines=len(lines), results=results, accounts=len(accounts), commands=commands)


def fold(store: Path) -> None:
    """Fold the WAL into the file that is committed and compact it (the page size stays the engine's)."""
    import sqlite3  # noqa: PLC0415 - only to fold the WAL into the file that is committed

    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("VACUUM")
    db.close()


def write_expected(path: Path, lines: int, results: list[Any], accounts: int, commands: list[Any]) -> None:
    """What replay must reproduce: the counts, and the emitted commands' sha256."""
    digest = hashlib.sha256(orjson.dumps(commands)).hexdigest()
    path.write_text(
        json.dumps(
            {
                "format": 1,
                "inputs": lines,
                "accepted": sum(r.outcome.value == "accepted" for r in results),
                "accounts": accounts,
                "commands": len(commands),
                "commands_sha256": digest,
                "first_commands": commands[:5],
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
