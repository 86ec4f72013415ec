"""The emergency brake on a real store (SQLite and PostgreSQL): an overdue burst, then operators on its held locks.

Hypothesis chooses the burst: a portfolio of a few thousand accounts of which
5-15% go overdue within one hour of event time, in one of several shapes
(one instant, uniform, front-loaded, two waves, not in time order), cut into
batches of several sizes. Exactly the locks the rule holds are held: with the
burst in time order, every lock after the first `bound` and none before it.
4 examples per store in CI (about 20 s each store); FENGKONG_LONG=1: 25.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.access.keys import Principal, Role
from adapters.audit.brake import audit_brake_ledger
from adapters.audit.parallel import Audit
from adapters.bootstrap import open_engine_tables
from adapters.operators.service import Operators
from adapters.settings import Settings
from adapters.store.readers import EngineTables
from engine.batch import Outcome
from tests.support.bursts import SHAPES, Burst, burst_events, oracle, portfolio
from tests.support.wiring import open_engine

LONG = os.environ.get("FENGKONG_LONG") == "1"
NewStore = Callable[[], str]
ALICE = Principal("k-alice", "alice", Role.OPERATOR)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewStore]:
    """A factory of empty stores: one per hypothesis example."""
    if request.param == "sqlite":
        yield lambda: str(tmp_path / f"{uuid.uuid4().hex}.db")
        return
    server = request.getfixturevalue("postgres_server")
    yield lambda: str(server.create_database(f"burst_{uuid.uuid4().hex[:12]}"))


bursts = st.builds(
    lambda accounts, share, shape, span, seed: Burst(accounts, round(accounts * share), shape, span, seed),
    st.integers(2000, 4000),
    st.floats(0.05, 0.15),
    st.sampled_from(SHAPES),
    st.integers(0, 59),
    st.integers(0, 2**16),
)


def ingest(store: str, burst: Burst, batch_size: int) -> tuple[dict[str, int], set[str]]:
    """The portfolio, then the burst; (emitted LockCards and held locks per account), the accounts held."""
    engine = open_engine(store)
    try:
        list(engine.ingest(portfolio(burst.accounts), batch_size=2000))
        messages, _ = burst_events(burst)
        results = list(engine.ingest(messages, batch_size=batch_size))
        assert all(r.outcome is Outcome.ACCEPTED for r in results)
        locked = {c.account_id for r in results for c in r.commands if c.type == "LockCard"}
        tables = _tables(store)
        held = {lock.account_id for lock in tables.holds()}
        tables.db.close()
        return {"emitted": len(locked), "held": sum(r.held for r in results)}, held
    finally:
        engine.close()


def _tables(store: str) -> EngineTables:
    return open_engine_tables(Settings(store=store))


@settings(
    max_examples=25 if LONG else 4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(burst=bursts, batch_size=st.sampled_from([97, 500, 2000]))
def test_exactly_the_locks_beyond_the_bound_are_held(new_store: NewStore, burst: Burst, batch_size: int) -> None:
    store = new_store()
    counts, held = ingest(store, burst, batch_size)
    _, locks = burst_events(burst)
    expected = oracle(locks, burst.bound)
    assert held == expected
    assert counts["held"] == len(expected) and counts["emitted"] + counts["held"] == burst.overdue
    if burst.shape != "unsorted":  # in time order: the first `bound` emitted, every later one held
        in_order = [account for account, _ in locks]
        assert held == set(in_order[burst.bound :])
        assert counts["emitted"] == min(burst.bound, burst.overdue)
    proof = audit_brake_ledger(Settings(store=store))
    assert proof.identical, proof.differences[:3]
    assert proof.verdicts == burst.overdue and proof.held == len(expected)


def test_release_emits_the_held_commands_drop_emits_nothing_and_replay_re_derives_both(new_store: NewStore) -> None:
    store = new_store()
    burst = Burst(accounts=2600, overdue=60, shape="uniform", span_minutes=30, seed=7)  # bound 52: 8 held
    ingest(store, burst, 500)
    tables = _tables(store)
    holds = tables.holds()
    assert len(holds) == 8
    operators = Operators(open_engine(store, cache_size=1), tables)
    release, drop = holds[:5], holds[5:]
    released = operators.release(ALICE, [h.hold_id for h in release], "billing confirmed")
    assert [o.outcome for o in released] == ["applied"] * 5
    for outcome, lock in zip(released, release, strict=True):
        assert outcome.commands == lock.commands  # the same commands, with the same ids, as decided then
    again = operators.release(ALICE, [release[0].hold_id])  # a double click
    assert again[0].outcome == "duplicate" and again[0].commands == []
    dropped = operators.drop(ALICE, [h.hold_id for h in drop], "billing fault")
    assert [o.outcome for o in dropped] == ["applied"] * 3 and all(o.commands == [] for o in dropped)
    assert tables.holds() == []
    engine = open_engine(store)
    emitted = {c.command_id for c in engine.commands()}
    assert {c["command_id"] for h in release for c in h.commands} <= emitted
    assert not {c["command_id"] for h in drop for c in h.commands} & emitted
    for lock in release:
        account = engine.load_account(lock.account_id)
        assert account is not None and account.controls.card_locked and account.controls.held is None
    verdicts = list(Audit(Settings(store=store), [h.account_id for h in holds]))
    assert all(v.identical for v in verdicts)
    assert sorted(a["action"] for v in verdicts for a in v.actions) == ["HoldDropped"] * 3 + ["HoldReleased"] * 5
    assert audit_brake_ledger(Settings(store=store)).identical
    engine.close()
    operators.engine.close()
    tables.db.close()
