"""Two writers race for the brake's last slot: the one that commits second has its lock held (SQLite and PostgreSQL).

Each prepares its batch against the same record (one slot left, so each
expects to emit); the first commits; the second's transaction locks the
record, judges again, finds the slot taken and prepares its batch again
under the lock: its lock is held, its recorded count is the first's, and
the brake's ledger re-derived in the store's order proves both.
"""

from __future__ import annotations

import orjson

from adapters.audit.brake import audit_brake_ledger
from adapters.settings import Settings
from engine.application import parse_all
from tests.support.bursts import BATCH_TIME, Burst, burst_events, portfolio
from tests.support.wiring import open_engine


def _late(account: str, minutes: int) -> bytes:
    at = BATCH_TIME.replace(minute=BATCH_TIME.minute + minutes)
    data = {"bill_id": f"{account}-b1", "days_past_due": 1, "outstanding": "100.00"}
    event = {"event_id": f"{account}-late", "type": "OverdueReported", "account_id": account}
    return orjson.dumps({**event, "occurred_at": at.isoformat(), "schema_version": 1, "data": data})


def test_the_writer_that_commits_second_has_its_lock_held(store: str) -> None:
    first, second = open_engine(store), open_engine(store)
    list(first.ingest(portfolio(100), batch_size=200))  # 100 active accounts: bound 50
    fill, _ = burst_events(Burst(100, 49, "one_instant", 0, 3))
    list(first.ingest(fill))  # 49 emitted: one slot left
    taken = {orjson.loads(line)["account_id"] for line in fill}
    racers = [f"P{n:05d}" for n in range(100) if f"P{n:05d}" not in taken][:2]

    closed = orjson.dumps(
        {"event_id": "day-0321", "type": "DayClosed", "occurred_at": "2026-03-21T23:59:00+08:00", "schema_version": 1}
        | {"data": {"business_date": "2026-03-21"}}
    )
    mine = second.prepare(parse_all([_late(racers[1], 2), closed]))  # the clock moves in the batch prepared again
    theirs = first.prepare(parse_all([_late(racers[0], 1)]))
    assert mine.results[0].commands[0].type == "LockCard"  # prepared against the same count: both expect to emit
    assert theirs.results[0].commands[0].type == "LockCard"

    first.commit(theirs)  # takes the last slot
    second.commit(mine)  # judged again under the lock: the slot is gone
    assert mine.results[0].held == 1 and not any(c.type == "LockCard" for c in mine.results[0].commands)
    assert [r.outcome.value for r in mine.results] == ["accepted", "accepted"]
    assert second.load_clock().business_date is not None
    account = second.load_account(racers[1])
    assert account is not None and account.controls.held is not None and not account.controls.card_locked
    assert account.controls.held["brake"] == {"count": 50, "active": 100, "bound": 50, "verdict": "held"}
    proof = audit_brake_ledger(Settings(store=store))
    assert proof.identical, proof.differences
    assert (proof.verdicts, proof.held) == (51, 1)
    first.close()
    second.close()


def test_a_lock_whose_cause_is_earlier_than_the_one_that_took_the_slot_is_still_emitted(store: str) -> None:
    """The rule counts only causes at or before a lock's own: the slot taken at 02:32 is not in 02:31's hour."""
    first, second = open_engine(store), open_engine(store)
    list(first.ingest(portfolio(100), batch_size=200))
    fill, _ = burst_events(Burst(100, 49, "one_instant", 0, 3))
    list(first.ingest(fill))
    taken = {orjson.loads(line)["account_id"] for line in fill}
    racers = [f"P{n:05d}" for n in range(100) if f"P{n:05d}" not in taken][:2]
    mine = second.prepare(parse_all([_late(racers[1], 1)]))
    theirs = first.prepare(parse_all([_late(racers[0], 2)]))
    first.commit(theirs)
    second.commit(mine)
    assert mine.results[0].held == 0 and mine.results[0].commands[0].type == "LockCard"
    assert audit_brake_ledger(Settings(store=store)).identical
    first.close()
    second.close()
