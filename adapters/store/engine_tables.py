"""Rows of the engine's own tables, shaped the same for every database.

The emergency brake's tables (engine.brake, docs/policy.md "Rule 8"):
`fengkong_brake`, its one record (`id` 1: the active accounts, the batches
judged, since when it is tripped, the latest cause time and bound), locked
by every transaction that judges automatic locks or changes what they are
judged against; `fengkong_brake_locks`, the cause time of every automatic
lock emitted (what a window counts); `fengkong_holds`, the held locks
waiting for an operator, one per account at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import orjson

from engine.batch import HoldRow
from engine.brake import micros
from events.commands import CommandType
from events.recorded import decode, recorded_decisions
from events.rules import AUTOMATIC_LOCKS

BRAKE_COLUMNS = "active, version, tripped_since, last_at, last_bound"
HOLD_COLUMNS = "account_id, hold_id, rule, cause_event_id, cause_at, held_count, active, bound, commands"


def agenda_rows(agenda: Sequence[tuple[str, date | None]]) -> tuple[list[tuple[str, str]], list[tuple[str]]]:
    """(account, due date) rows to upsert and (account,) rows to delete."""
    due = [(account_id, day.isoformat()) for account_id, day in agenda if day is not None]
    cleared = [(account_id,) for account_id, day in agenda if day is None]
    return due, cleared


def hold_rows(holds: Sequence[HoldRow]) -> tuple[list[tuple[Any, ...]], list[tuple[str]]]:
    """fengkong_holds rows to upsert (in HOLD_COLUMNS order) and (account,) rows to delete."""
    upserts, deletes = [], []
    for account_id, held in holds:
        if held is None:
            deletes.append((account_id,))
            continue
        first, verdict = held["commands"][0], held["brake"]
        upserts.append(
            (
                account_id,
                held["id"],
                first["rule"],
                first["cause_event_id"],
                micros(datetime.fromisoformat(first["occurred_at"])),
                verdict["count"],
                verdict["active"],
                verdict["bound"],
                orjson.dumps(held["commands"]).decode(),
            )
        )
    return upserts, deletes


def emitted_locks(states: Iterable[tuple[str, bytes]]) -> list[tuple[int, str, str]]:
    """(cause time µs, account, cause event id) of the automatic locks emitted in these stored facts.

    Fills `fengkong_brake_locks` for a store recorded before the brake existed,
    whose locks were all emitted and count in their windows like any other.
    """
    found = []
    for account_id, raw in states:
        state = decode(raw)
        if "decisions" not in state or "fact" not in state:
            continue
        for decision in recorded_decisions(account_id, state):
            command = decision["command"]
            if decision["rule"] in AUTOMATIC_LOCKS and command and command["type"] == CommandType.LOCK_CARD:
                at = micros(datetime.fromisoformat(decision["occurred_at"]))
                found.append((at, account_id, decision["cause_event_id"]))
    return found
