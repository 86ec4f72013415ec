"""The emergency brake's arithmetic (contract rule 8), and the audit that re-derives its ledger."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson

from engine.brake import EMITTED, HELD, BrakeState, Judge, from_micros, micros
from engine.brake_audit import audit_brake
from engine.policy import BrakeRule, load_policy
from events.recorded import BRAKE_TOPIC, FACT_TOPIC, encode_brake

RULE = BrakeRule()
T = datetime(2026, 3, 21, 2, 30, tzinfo=UTC)
HOUR = 3_600_000_000


class Store:
    """A brake source: the record and the emitted locks a store would hold."""

    def __init__(self, active: int, emitted: list[int] = []) -> None:  # noqa: B006 - never mutated
        self.state = BrakeState(active)
        self.emitted = sorted(emitted)
        self.reads = 0

    def brake_state(self) -> BrakeState:
        return self.state

    def emitted_between(self, after: int, until: int) -> list[int]:
        self.reads += 1
        return [t for t in self.emitted if after < t <= until]


def test_the_bound_is_two_percent_of_active_accounts_at_least_fifty() -> None:
    assert RULE.bound(0) == 50 and RULE.bound(2500) == 50
    assert RULE.bound(2501) == 51  # ceil(50.02)
    assert RULE.bound(100_000) == 2000
    assert BrakeRule(share_of_active=Decimal("0.10"), minimum=0).bound(7) == 1


def test_locks_beyond_the_bound_are_held_and_held_ones_do_not_count() -> None:
    judge = Judge(Store(active=1000))  # bound 50
    at = micros(T)
    verdicts = [judge.judge(at + n, RULE) for n in range(60)]
    assert [v["verdict"] for v in verdicts] == [EMITTED] * 50 + [HELD] * 10
    assert [v["count"] for v in verdicts] == [*range(50), *[50] * 10]  # held locks never raise the count
    assert {v["bound"] for v in verdicts} == {50} and {v["active"] for v in verdicts} == {1000}


def test_the_window_is_the_hour_before_the_cause_excluding_its_start() -> None:
    at = micros(T)
    store = Store(active=0, emitted=[at - HOUR, at - HOUR + 1, at, at + 1])  # bound 50: count only
    judge = Judge(store)
    # t - 1h < t' <= t: the lock exactly an hour earlier and the later one do not count
    assert judge.judge(at, RULE)["count"] == 2
    assert judge.judge(at - HOUR, RULE)["count"] == 1  # (t-2h, t-1h]: the one at t - 1h only
    assert Judge(Store(0, [at + 1])).judge(at, RULE)["count"] == 0  # a later cause never counts for an earlier one


def test_the_batch_counts_its_own_emitted_locks_and_reads_the_store_once_per_span() -> None:
    at = micros(T)
    store = Store(active=0, emitted=[at - 10, at - 5])
    judge = Judge(store)
    counts = [judge.judge(at + n, RULE)["count"] for n in range(5)]
    assert counts == [2, 3, 4, 5, 6]
    assert store.reads <= 5  # only the newly needed span is read each time


def test_times_convert_exactly_both_ways() -> None:
    moment = datetime(2026, 3, 21, 2, 30, 0, 123456, tzinfo=UTC)
    assert from_micros(micros(moment)) == moment
    east = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    assert micros(east) == micros(moment)


# ---------------------------------------------------------------- the ledger audit


def _lock(account: str, at: datetime, verdict: dict[str, object] | None, emitted: bool = True) -> bytes:
    decision: dict[str, object] = {"rule": "lock.overdue", "facts": {}}
    if verdict is not None:
        decision["brake"] = verdict
    if emitted and (verdict is None or verdict["verdict"] == EMITTED):
        decision["command"] = {"command_id": f"c-{account}", "type": "LockCard"}
    fact = {"event_id": f"e-{account}", "account_id": account, "type": "OverdueReported", "occurred_at": at.isoformat()}
    return orjson.dumps({"v": 1, "policy": "default-v1", "fact": fact, "balances": [], "decisions": [decision]})


def _opened(account: str) -> bytes:
    fact = {"event_id": f"o-{account}", "account_id": account, "type": "AccountOpened", "occurred_at": T.isoformat()}
    return orjson.dumps({"v": 1, "policy": "default-v1", "fact": fact, "balances": []})


def _verdict(count: int, active: int, bound: int = 50) -> dict[str, object]:
    return {"count": count, "active": active, "bound": bound, "verdict": HELD if count >= bound else EMITTED}


def test_the_ledger_audit_proves_verdicts_in_order_and_counts_locks_from_before_the_brake() -> None:
    log = [(1, FACT_TOPIC, _opened("A")), (2, FACT_TOPIC, _opened("B"))]
    log.append((3, FACT_TOPIC, _lock("A", T, None)))  # recorded before the brake existed: emitted, counts
    log.append((4, BRAKE_TOPIC, encode_brake(2, 1, 0)))
    log.append((5, FACT_TOPIC, _lock("B", T + timedelta(minutes=1), _verdict(1, 2))))
    result = audit_brake(log, functools.cache(load_policy))
    assert result.identical, result.differences
    assert (result.batches, result.verdicts, result.held) == (1, 1, 0)


def test_the_ledger_audit_finds_a_count_active_or_verdict_that_is_not_the_store_order() -> None:
    base = [(1, FACT_TOPIC, _opened("A")), (2, BRAKE_TOPIC, encode_brake(1, 1, 0))]
    wrong_count = [*base, (3, FACT_TOPIC, _lock("A", T, _verdict(3, 1)))]
    wrong_active = [(1, FACT_TOPIC, _opened("A")), (2, BRAKE_TOPIC, encode_brake(7, 1, 0))]
    wrong_verdict = [*base, (3, FACT_TOPIC, _lock("A", T, {**_verdict(0, 1), "verdict": HELD}, emitted=False))]
    for log in (wrong_count, wrong_active, wrong_verdict):
        assert not audit_brake(log, functools.cache(load_policy)).identical
