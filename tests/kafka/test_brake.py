"""The emergency brake through two `fengkong worker` processes sharing the partitions: one count for both.

Two fixed examples (hypothesis runs the burst's shapes on the stores, tests/integration/test_brake_burst.py):
a portfolio is opened and billed through the workers, then billing's
delinquency batch marks 10-12% of it overdue at its batch time. Both workers
judge their partitions' locks against the one brake record in the store, so
held + emitted = the locks the rules took, exactly `bound` are emitted in the
hour, and the brake's ledger re-derived in the store's order proves every
verdict. About 40 s each.

The causes share one instant on purpose: the rule counts only locks whose
causes are at or before a lock's own (t - 1h < t' <= t), so a worker that
judges a later cause before another worker judges an earlier one can emit
more than the bound within the hour (docs/policy.md, "Two workers and the
last slot"); with billing's batch stamped at one time, as here, it cannot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.audit.brake import audit_brake_ledger
from adapters.bootstrap import open_engine_tables
from adapters.settings import Settings
from tests.kafka.support import Topics, caught_up, fengkong_process, publish, stop_process, wait_for, worker_args
from tests.support.bursts import Burst, burst_events, portfolio
from tests.support.wiring import open_engine

pytestmark = [pytest.mark.kafka]


@pytest.mark.parametrize(
    ("backend", "burst"),
    [
        pytest.param("postgres", Burst(3000, 360, "one_instant", 0, 5), marks=pytest.mark.postgres),  # bound 60
        pytest.param("sqlite", Burst(2600, 260, "one_instant", 0, 6)),  # bound 52
    ],
)
def test_two_workers_sharing_the_partitions_emit_exactly_the_bound_and_hold_the_rest(
    request: pytest.FixtureRequest,
    kafka_broker: Any,
    topics: Topics,
    group: str,
    tmp_path: Path,
    backend: str,
    burst: Burst,
) -> None:
    store = request.getfixturevalue("postgres_url") if backend == "postgres" else str(tmp_path / "store.db")
    bootstrap = kafka_broker.bootstrap_servers
    open_engine(store).close()  # the tables once, before two processes race to make them
    publish(bootstrap, portfolio(burst.accounts), topics)
    logs = [tmp_path / f"worker{n}.log" for n in range(2)]
    workers = [fengkong_process(worker_args(store, bootstrap, topics, group, batch_size=100), log) for log in logs]
    try:
        wait_for(caught_up(store, bootstrap, topics.events), 180, "the portfolio to be recorded")
        messages, locks = burst_events(burst)
        publish(bootstrap, messages, topics)
        wait_for(caught_up(store, bootstrap, topics.events), 180, "the burst to be recorded")
    finally:
        codes = [stop_process(worker) for worker in workers]
    assert codes == [0, 0], "\n".join(log.read_text()[-2000:] for log in logs)
    assert all("assigned partitions [" in log.read_text() for log in logs), "both workers shared the partitions"

    engine = open_engine(store)
    emitted = [c for c in engine.commands() if c.type == "LockCard"]
    held = engine.store.brake_state()
    engine.close()
    tables = open_engine_tables(Settings(store=store))
    holds = tables.holds()
    tables.db.close()
    assert len(emitted) + len(holds) == len(locks) == burst.overdue  # every lock the rules took: emitted or held
    assert len(emitted) == burst.bound  # within the hour, not one more
    assert held.active == burst.accounts
    proof = audit_brake_ledger(Settings(store=store))
    assert proof.identical, proof.differences[:3]
    assert proof.verdicts == burst.overdue and proof.held == burst.overdue - burst.bound
