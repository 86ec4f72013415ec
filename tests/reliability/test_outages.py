"""The broker or the database goes away while a worker and the relay run: they wait, then finish the job.

Real `fengkong worker` and `fengkong relay` processes; the test stops the
session's Kafka broker or PostgreSQL server under them and starts it again.
Each must stay up (no exit, so no crash loop under a supervisor), log a
bounded number of retries, skip nothing and apply nothing twice: reconcile
is clean and the store equals a clean run of the same input.

The clients ride out short outages by themselves (kafka-python re-sends,
eventsourcing retries a statement ten times); the processes here get short
timeouts (acknowledgements within 3 s, a database connection within 1 s) so
that the outage outlasts them and the worker's own retry path (abandon the
batch, back off, re-read the offsets from the store) runs too.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kafka.support import (
    Topics,
    assert_same,
    end_offsets,
    fengkong_process,
    portfolio,
    publish,
    relay_args,
    snapshot,
    stop_process,
    wait_for,
    worker_args,
)
from tests.reliability.support import (
    alive,
    cached_reference,
    close_readers,
    reconcile,
    recorded_total,
    retries_logged,
    settle,
    topic_args,
)
from tests.support.wiring import open_engine

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MAX_RETRIES = 12
"""Backoff doubles from 0.5 s to 30 s: an outage of 8-12 s costs a handful of retries per process, not a loop."""
SHORT_TIMEOUTS = ["--ack-timeout-s", "3"]


def run_through_outage(
    service: Any,
    how: str,
    outage_s: float,
    store: str,
    bootstrap: str,
    topics: Topics,
    group: str,
    tmp_path: Path,
    *,
    backlog: bool = False,
) -> dict[str, list[str]]:
    """Stop or kill `service` once a quarter of the stream is recorded; `backlog` holds the relay back first.

    A worker whose group coordinator is gone stops getting records from `poll` (kafka-python returns
    none, though some are buffered), and a relay that is drained has nothing to send: both may sit
    out a broker outage without a single request failing. Held back (SIGSTOP) until half the stream
    is recorded, the relay meets the outage with commands to publish, so its retry path surely runs.
    """
    lines = portfolio(accounts=300, days=100, seed=8)
    reference = cached_reference(lines)
    publish(bootstrap, lines, topics)
    total = sum(end_offsets(bootstrap, topics.events).values())
    open_engine(store)
    logs = {"worker": tmp_path / "worker.log", "relay": tmp_path / "relay.log"}
    worker_cmd = [*worker_args(store, bootstrap, topics, group, batch_size=20), *SHORT_TIMEOUTS]
    worker = fengkong_process(worker_cmd, logs["worker"])
    relay = fengkong_process([*relay_args(store, bootstrap, topics, page=20), *SHORT_TIMEOUTS], logs["relay"])
    try:
        wait_for(lambda: recorded_total(store, topics.events) >= total // 4, 90, "a quarter of the stream")
        if backlog:
            relay.send_signal(signal.SIGSTOP)
            wait_for(lambda: recorded_total(store, topics.events) >= total // 2, 90, "half the stream")
        getattr(service, how)()  # stop() or kill()
        if backlog:
            relay.send_signal(signal.SIGCONT)
        time.sleep(outage_s)
        assert alive(worker) and alive(relay), "a process exited during the outage"
        service.start()
        settle(store, bootstrap, topics, 180)
        assert alive(worker) and alive(relay)
    finally:
        relay.send_signal(signal.SIGCONT)  # harmless when it runs; SIGTERM waits on a stopped process
        codes = [stop_process(worker), stop_process(relay)]
        close_readers()
    return finished_cleanly(codes, logs, store, bootstrap, topics, reference.snapshot)


def failed_to_connect(log: Path) -> bool:
    return log.exists() and "connecting to Kafka failed" in log.read_text(errors="replace")


def finished_cleanly(
    codes: list[int], logs: dict[str, Path], store: str, bootstrap: str, topics: Topics, expected: Any
) -> dict[str, list[str]]:
    """Both exited 0 on SIGTERM, retried a bounded number of times, no traceback; nothing skipped or repeated."""
    assert codes == [0, 0], {name: path.read_text()[-2000:] for name, path in logs.items()}
    retries = {name: retries_logged(path) for name, path in logs.items()}
    assert all(len(found) <= MAX_RETRIES for found in retries.values()), retries
    for path in logs.values():
        assert "Traceback" not in path.read_text()
    reconcile(store, *topic_args(bootstrap, topics))
    assert_same(snapshot(store), expected)
    return retries


def test_kafka_broker_stopped_and_restarted_under_a_worker_and_the_relay(
    kafka_broker: Any, postgres_url: str, topics: Topics, group: str, tmp_path: Path, record_property: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    retries = run_through_outage(
        kafka_broker, "stop", 8.0, postgres_url, bootstrap, topics, group, tmp_path, backlog=True
    )
    record_property("retries", retries)
    print(f"\nbroker stopped for 8 s: retries {retries}")
    assert retries["relay"], "the relay published its backlog into the outage, yet outlasted none of its timeouts"


def test_a_worker_and_the_relay_started_while_the_broker_is_down_wait_for_it(
    kafka_broker: Any, postgres_url: str, topics: Topics, group: str, tmp_path: Path
) -> None:
    """A supervisor may start them before the broker is up: they wait (one line per try), never exit."""
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=60, days=40, seed=9)
    reference = cached_reference(lines)
    publish(bootstrap, lines, topics)
    open_engine(postgres_url)
    logs = {"worker": tmp_path / "worker.log", "relay": tmp_path / "relay.log"}
    kafka_broker.stop()
    try:
        worker = fengkong_process(worker_args(postgres_url, bootstrap, topics, group), logs["worker"])
        relay = fengkong_process(relay_args(postgres_url, bootstrap, topics), logs["relay"])
        wait_for(lambda: all(map(failed_to_connect, logs.values())), 60, "both to fail to reach the broker")
        assert alive(worker) and alive(relay), "a process exited while the broker was down"
    finally:
        kafka_broker.start()
    try:
        settle(postgres_url, bootstrap, topics, 180)
    finally:
        codes = [stop_process(worker), stop_process(relay)]
        close_readers()
    finished_cleanly(codes, logs, postgres_url, bootstrap, topics, reference.snapshot)


def test_postgres_killed_and_restarted_under_a_worker_and_the_relay(
    kafka_broker: Any,
    postgres_server: Any,
    postgres_url: str,
    topics: Topics,
    group: str,
    tmp_path: Path,
    record_property: Any,
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    store = f"{postgres_url}?connect_timeout=1"
    retries = run_through_outage(postgres_server, "kill", 12.0, store, bootstrap, topics, group, tmp_path)
    record_property("retries", retries)
    print(f"\nPostgreSQL crashed, down for 12 s: retries {retries}")
    assert retries["worker"] or retries["relay"], "the outage outlasted the store client's own retries"
