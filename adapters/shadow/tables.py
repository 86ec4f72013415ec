"""The shadow read model: `rm_shadow_runs`, `rm_shadow_decisions`, `rm_shadow_accounts` (docs/audit.md).

Written by the shadow runner (adapters.shadow.runner), never by the engine:
a shadow records nothing in the event store. One run per candidate version;
its position is written in the same transaction as the rows of the facts it
read, and only if unchanged since it read them, so each fact is shadowed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from adapters.store.tables import ProjectionDatabase

RUNS, DECISIONS, ACCOUNTS = "rm_shadow_runs", "rm_shadow_decisions", "rm_shadow_accounts"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RUNS} (version TEXT PRIMARY KEY, digest TEXT NOT NULL, text TEXT NOT NULL, "
    "started_position BIGINT NOT NULL, position BIGINT NOT NULL, facts BIGINT NOT NULL, "
    "started_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {DECISIONS} (version TEXT NOT NULL, side TEXT NOT NULL, position BIGINT NOT NULL, "
    "seq INTEGER NOT NULL, account_id TEXT NOT NULL, local_date TEXT NOT NULL, cause_event_id TEXT NOT NULL, "
    "rule TEXT NOT NULL, facts TEXT NOT NULL, changes TEXT NOT NULL, command_type TEXT, command TEXT, "
    "PRIMARY KEY (version, side, position, seq))",
    f"CREATE TABLE IF NOT EXISTS {ACCOUNTS} (version TEXT NOT NULL, account_id TEXT NOT NULL, "
    "recorded TEXT NOT NULL, candidate TEXT NOT NULL, PRIMARY KEY (version, account_id))",
)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class Run:
    version: str
    digest: str
    text: str
    started_position: int
    position: int
    facts: int
    started_at: str
    updated_at: str


class PositionMoved(RuntimeError):
    """Another shadow process of the same candidate wrote first: read again from its position."""


class ShadowTables:
    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def prepare(self) -> None:
        with self.db.write():
            self.db.serialize_ddl()
            for statement in _DDL:
                self.db.execute(statement)

    def exists(self) -> bool:
        return self.db.has_table(RUNS)

    def runs(self) -> list[Run]:
        if not self.exists():
            return []
        rows = self.db.query(f"SELECT * FROM {RUNS} ORDER BY started_at, version")
        return [Run(*row) for row in rows]

    def run(self, version: str) -> Run | None:
        found = [r for r in self.runs() if r.version == version]
        return found[0] if found else None

    def start(self, run: Run) -> None:
        with self.db.write():
            self.db.execute(
                f"INSERT INTO {RUNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING",
                [
                    run.version,
                    run.digest,
                    run.text,
                    run.started_position,
                    run.position,
                    run.facts,
                    run.started_at,
                    run.updated_at,
                ],
            )

    def candidate_controls(self, version: str, account_id: str) -> dict[str, Any] | None:
        found = self.db.query(
            f"SELECT candidate FROM {ACCOUNTS} WHERE version = ? AND account_id = ?", [version, account_id]
        )
        return None if not found else orjson.loads(found[0][0])

    def write(
        self,
        run: Run,
        position: int,
        facts: int,
        decisions: list[tuple[Any, ...]],
        accounts: list[tuple[str, str, str, str]],
        now: str,
    ) -> None:
        """A page's rows and the run's new position, if nobody moved it since `run` was read."""
        with self.db.write():
            found = self.db.query(
                f"SELECT position FROM {RUNS} WHERE version = ?{self.db.lock_clause()}", [run.version]
            )
            if not found or int(found[0][0]) != run.position:
                raise PositionMoved(run.version)
            self.db.executemany(f"INSERT INTO {DECISIONS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", decisions)
            self.db.executemany(
                f"INSERT INTO {ACCOUNTS} VALUES (?, ?, ?, ?) ON CONFLICT (version, account_id) "
                "DO UPDATE SET recorded = excluded.recorded, candidate = excluded.candidate",
                accounts,
            )
            self.db.execute(
                f"UPDATE {RUNS} SET position = ?, facts = ?, updated_at = ? WHERE version = ?",
                [position, run.facts + facts, now, run.version],
            )

    def decisions(self, version: str) -> list[tuple[Any, ...]]:
        """(side, position, seq, account, local date, cause, rule, changes, command) in the store's order."""
        return self.db.query(
            "SELECT side, position, seq, account_id, local_date, cause_event_id, rule, changes, command "
            f"FROM {DECISIONS} WHERE version = ? ORDER BY account_id, side, position, seq",
            [version],
        )

    def accounts(self, version: str) -> list[tuple[str, str, str]]:
        return [
            (str(a), str(r), str(c))
            for a, r, c in self.db.query(
                f"SELECT account_id, recorded, candidate FROM {ACCOUNTS} WHERE version = ? ORDER BY account_id",
                [version],
            )
        ]
