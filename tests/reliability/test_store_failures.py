"""The store fails a write while a worker runs: the batch is not acknowledged, nothing partial is visible.

Two real failures, injected into a worker (in process, on the real broker):

* SQLite: the database is full. Every connection the engine takes is capped
  at the file's current size (`PRAGMA max_page_count`), so SQLite itself
  refuses the next page with SQLITE_FULL.
* PostgreSQL: the connection dies mid-transaction. At the fault seam inside
  the store transaction (after the index rows, before the commit) the
  backend is terminated (`pg_terminate_backend`), as a failover or an
  operator would.

While the fault lasts the worker retries with backoff and the test checks:
the recorded offsets do not move, the Kafka offset hint stays at or below
them, and the store is exactly the prefix of the input up to the recorded
offsets (reconcile `--to` those offsets, nothing missing, nothing extra).
Then the fault clears, the worker catches up by itself, and reconcile and the
comparison with a clean run hold for the whole input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.client import KafkaConsumer, TopicPartition
from adapters.runtime import faults
from tests.kafka.support import (
    Topics,
    WorkerThread,
    assert_same,
    caught_up,
    end_offsets,
    portfolio,
    publish,
    snapshot,
    wait_for,
)
from tests.reliability.support import cached_reference, reconcile, topic_args
from tests.support.wiring import open_engine

pytestmark = pytest.mark.kafka

LINES = portfolio(accounts=150, days=80, seed=6)
FAST_RETRY = {"retry_initial_s": 0.1, "retry_max_s": 0.5, "max_poll_records": 20}


class DiskFull:
    """While on, caps every connection the engine's SQLite pool hands out at the file's current size.

    A batch small enough to fit in the free space of the file's pages would still commit under the cap (the disk
    did have room for it), so while on every store transaction also writes 1 MiB to a scratch table: SQLite
    itself then fails the transaction with SQLITE_FULL, whatever the batch's size.
    """

    def __init__(self, engine: Any) -> None:
        self.on = False
        pool = engine.recorder.datastore.pool
        self._get = pool.get_connection
        pool.get_connection = self._limited
        with engine.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS test_disk_filler (filler BLOB)")
        faults.arm("store.in_transaction", self._fill)

    def _fill(self, count: int, cursor: Any) -> None:
        if self.on:
            cursor.execute("INSERT INTO test_disk_filler VALUES (zeroblob(1048576))")

    def _limited(self, *args: Any, **kwargs: Any) -> Any:
        connection = self._get(*args, **kwargs)
        raw = connection._sqlite_conn
        if self.on:
            pages = raw.execute("PRAGMA page_count").fetchone()[0]
            raw.execute(f"PRAGMA max_page_count = {pages}")
        else:
            raw.execute("PRAGMA max_page_count = 1073741823")
        return connection


def hint(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The offsets the worker committed to Kafka (its lag hint), read without joining the group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        found = {p: consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        consumer.close(autocommit=False)
    return {p: offset for p, offset in found.items() if offset is not None}


def ride_out_a_failing_store(
    store: str,
    bootstrap: str,
    topics: Topics,
    group: str,
    start: Callable[[], None],
    stop: Callable[[], None],
    worker: WorkerThread,
) -> None:
    reference = cached_reference(LINES)
    publish(bootstrap, LINES, topics)
    total = sum(end_offsets(bootstrap, topics.events).values())
    reader = open_engine(store)
    recorded = lambda: reader.positions(topics.events)  # noqa: E731
    worker.start()
    try:
        wait_for(lambda: sum(recorded().values()) >= total // 3, 60, "a third of the stream")
        start()
        failures = worker.worker.stats.retries
        wait_for(lambda: worker.worker.stats.retries >= failures + 2, 60, "the worker to meet the failing store")
        held = recorded()
        wait_for(lambda: worker.worker.stats.retries >= failures + 4, 60, "more failed attempts")
        assert recorded() == held, "a batch was recorded while the store was failing"
        assert sum(held.values()) < total
        committed = hint(bootstrap, group, topics.events, topics.partitions)
        assert all(committed.get(p, 0) <= at for p, at in held.items()), (committed, held)
        prefix = ",".join(f"{p}:{held.get(p, 0)}" for p in range(topics.partitions))
        reconcile(store, *topic_args(bootstrap, topics, commands=False), "--to", prefix, "--no-projections")
        stop()
        wait_for(caught_up(store, bootstrap, topics.events), 120, "the worker to catch up once the store works")
    finally:
        stop()
        worker.stop()
    reconcile(store, *topic_args(bootstrap, topics, commands=False))
    assert_same(snapshot(store), reference.snapshot)


def test_sqlite_full_holds_the_batch_back_until_space_returns(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    store = str(tmp_path / "store.db")
    bootstrap = kafka_broker.bootstrap_servers
    worker = WorkerThread(store, bootstrap, topics, group, **FAST_RETRY)
    full = DiskFull(worker.worker.engine)
    fill, free = lambda: setattr(full, "on", True), lambda: setattr(full, "on", False)
    try:
        ride_out_a_failing_store(store, bootstrap, topics, group, fill, free, worker)
    finally:
        faults.disarm()


@pytest.mark.postgres
def test_postgres_connection_killed_inside_the_transaction_holds_the_batch_back(
    kafka_broker: Any, postgres_url: str, topics: Topics, group: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    terminating = {"on": False, "count": 0}

    def terminate(count: int, cursor: Any) -> None:
        if terminating["on"] and hasattr(cursor, "connection") and hasattr(cursor.connection, "pgconn"):
            terminating["count"] += 1
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    worker = WorkerThread(postgres_url, bootstrap, topics, group, **FAST_RETRY)
    faults.arm("store.in_transaction", terminate)
    try:
        ride_out_a_failing_store(
            postgres_url,
            bootstrap,
            topics,
            group,
            lambda: terminating.update(on=True),
            lambda: terminating.update(on=False),
            worker,
        )
    finally:
        faults.disarm()
    assert terminating["count"] >= 4
