"""Writes the golden store: a small SQLite store recorded by stored format 1, kept forever.

After this wave stored formats are versioned and upcast, never rewritten: every
later version of the engine must read, replay and audit this file as it is
(tests/integration/test_golden_store.py does, on every run). Run this again
only to add a golden store of a NEW format beside this one, never to replace it:

    python -m tests.data.golden.make_golden
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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
    import sqlite3  # noqa: PLC0415 - only to fold the WAL into the file that is committed

    with sqlite3.connect(STORE) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("VACUUM")
    digest = hashlib.sha256(orjson.dumps(commands)).hexdigest()
    EXPECTED.write_text(
        json.dumps(
            {
                "format": 1,
                "inputs": len(lines),
                "accepted": sum(r.outcome.value == "accepted" for r in results),
                "accounts": len(accounts),
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
