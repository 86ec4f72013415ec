"""`fengkong shadow report`: the what-if comparison over a shadow period, from the shadow read model.

The same figures as `fengkong audit whatif` (engine.whatif_summary), on the
facts the shadow saw on live traffic: what the active policy decided (as
recorded) beside what the candidate would have decided.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from adapters.shadow.tables import Run, ShadowTables
from engine.controls import Controls
from engine.whatif import AccountOutcome, Standing
from engine.whatif_summary import Summary


def choose_run(tables: ShadowTables, version: str | None) -> Run:
    """The named run, or the only one; LookupError with the reason otherwise."""
    runs = tables.runs()
    if version is not None:
        found = [run for run in runs if run.version == version]
        if not found:
            raise LookupError(f"no shadow run of {version!r} on this store")
        return found[0]
    if len(runs) != 1:
        names = ", ".join(run.version for run in runs) or "none"
        raise LookupError(f"name the shadow run (--policy VERSION); runs on this store: {names}")
    return runs[0]


def shadow_report(tables: ShadowTables, run: Run) -> dict[str, Any]:
    outcomes: dict[str, AccountOutcome] = {}
    for side, _, _, account_id, day, cause, rule, changes, command in tables.decisions(run.version):
        outcome = outcomes.setdefault(account_id, AccountOutcome(account_id))
        decision = {
            "cause_event_id": cause,
            "rule": rule,
            "changes": orjson.loads(changes),
            "command": None if command is None else orjson.loads(command),
        }
        (outcome.recorded if side == "recorded" else outcome.candidate).add(decision, date.fromisoformat(day))
    for account_id, recorded, candidate in tables.accounts(run.version):
        outcome = outcomes.setdefault(account_id, AccountOutcome(account_id))
        outcome.recorded.standing = Standing.of(Controls().changed(orjson.loads(recorded)))
        outcome.candidate.standing = Standing.of(Controls().changed(orjson.loads(candidate)))
    summary = Summary()
    for account_id in sorted(outcomes):
        summary.add(outcomes[account_id])
    figures = summary.json()
    figures["facts"] = figures["facts_decided"] = run.facts
    return {
        "candidate": {"version": run.version, "digest": run.digest},
        "period": {
            "from_position": run.started_position,
            "to_position": run.position - 1,
            "started_at": run.started_at,
            "updated_at": run.updated_at,
        },
        **figures,
    }


def shadow_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What a proposal records of its shadow period."""
    return {
        "candidate_digest": report["candidate"]["digest"],
        "period": report["period"],
        "facts": report["facts"],
        "accounts": report["accounts"],
        "commands_by_type": report["commands_by_type"],
        "differing_count": report["differing_count"],
    }
