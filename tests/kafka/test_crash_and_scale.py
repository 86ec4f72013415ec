"""Crashes, rebalances and zombies on the real broker with PostgreSQL: nothing lost, nothing applied twice.

Workers and relays run as real `fengkong` processes, killed with SIGKILL.
Each run is compared with a clean run of the same input through one engine:
the accepted event ids, every account (controls, balances, stream version)
and the command ids; the commands topic must hold each of those ids, at least
once. The duplicates it holds are the relay's measured at-least-once cost.
"""

from __future__ import annotations

import functools
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.config import COMMAND_ID_HEADER, GroupTiming
from adapters.kafka.dead_letters import DeadLetter, DeadLetterTopic
from adapters.kafka.publish import publish_lines
from adapters.kafka.worker import Worker, WorkerSettings
from engine.application import RiskEngine
from tests.kafka.support import (
    Topics,
    WorkerThread,
    assert_same,
    caught_up,
    end_offsets,
    fengkong_process,
    headers,
    portfolio,
    producer,
    publish,
    read_topic,
    reference_run,
    relay_args,
    snapshot,
    stop_process,
    wait_for,
    worker_args,
)
from tests.support.wiring import open_engine, outbox_drained

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@functools.cache
def reader(store: str) -> RiskEngine:
    """One engine per store for reading positions and the notification log (no aggregates)."""
    return open_engine(store)


def recorded_total(store: str, topic: str) -> int:
    return sum(reader(store).positions(topic).values())


def relay_position(store: str, topic: str) -> int:
    return reader(store).positions(f"relay:{topic}").get(0, 1)


def relay_drained(store: str, topic: str) -> bool:
    """True once the relay's recorded position is past the last recorded decision."""
    return outbox_drained(store, topic)


def dead_letter_sources(bootstrap: str, topic: str) -> set[tuple[str, str]]:
    """(partition, offset) of each record that was dead-lettered; a crash may repeat a letter."""
    letters = [headers(record) for record in read_topic(bootstrap, topic)]
    return {(h["fengkong-source-partition"], h["fengkong-source-offset"]) for h in letters}


def command_ids_on(bootstrap: str, topic: str) -> Counter[str]:
    return Counter(headers(record)[COMMAND_ID_HEADER] for record in read_topic(bootstrap, topic))


def test_sigkill_of_worker_and_relay_mid_stream_then_restart_equals_a_clean_run(
    kafka_broker: Any, postgres_url: str, topics: Topics, group: str, tmp_path: Path, record_property: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=300, days=100)
    reference = reference_run(lines, tmp_path / "reference.db")
    publish(bootstrap, lines, topics)
    total = sum(end_offsets(bootstrap, topics.events).values())
    open_engine(postgres_url)  # create the tables once, before two processes race to
    log = tmp_path / "processes.log"

    worker = fengkong_process(worker_args(postgres_url, bootstrap, topics, group, batch_size=40), log)
    relay = None
    try:
        # The worker dies a third of the way through the stream, mid-batch (batches follow each other).
        wait_for(lambda: recorded_total(postgres_url, topics.events) >= total // 3, 90, "a third of the stream")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        at_kill = recorded_total(postgres_url, topics.events)
        assert at_kill < total, "the worker was killed mid-stream"
        worker = fengkong_process(worker_args(postgres_url, bootstrap, topics, group, batch_size=40), log)
        wait_for(caught_up(postgres_url, bootstrap, topics.events), 120, "the restarted worker to catch up")

        # The relay dies while draining a full outbox, i.e. almost surely between a send and its record.
        relay = fengkong_process(relay_args(postgres_url, bootstrap, topics, page=5), log)
        wait_for(lambda: relay_position(postgres_url, topics.commands) > 1, 60, "the relay's first page", 0.005)
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        assert not relay_drained(postgres_url, topics.commands), "the relay was killed mid-outbox"
        relay = fengkong_process(relay_args(postgres_url, bootstrap, topics, page=5), log)
        wait_for(lambda: relay_drained(postgres_url, topics.commands), 60, "the relay to drain the outbox")
    finally:
        codes = [stop_process(worker), stop_process(relay) if relay else None]
    assert codes == [0, 0], log.read_text()[-3000:]

    assert_same(snapshot(postgres_url), reference.snapshot)
    assert len(dead_letter_sources(bootstrap, topics.dead_letters)) == reference.rejected
    seen = command_ids_on(bootstrap, topics.commands)
    assert set(seen) == set(reference.snapshot.command_ids), "each command at least once, no other"
    repeats = sum(count - 1 for count in seen.values())
    record_property("commands", len(reference.snapshot.command_ids))
    record_property("commands_repeated_after_relay_kill", repeats)
    print(
        f"\nkill test: {len(seen)} commands, {repeats} repeated after the relay's SIGKILL; worker at {at_kill}/{total}"
    )


def test_workers_joining_and_dying_while_events_flow_lose_and_repeat_nothing(
    kafka_broker: Any, postgres_url: str, topics: Topics, group: str, tmp_path: Path
) -> None:
    """One worker, then two, then three; one leaves (SIGTERM), one dies (SIGKILL); events keep coming."""
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=300, days=100, seed=21)
    reference = reference_run(lines, tmp_path / "reference.db")
    open_engine(postgres_url)
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]

    published = threading.Event()

    def upstream() -> None:
        client = producer(bootstrap)
        try:
            for start in range(0, len(lines), 50):  # about 20 s of steady traffic
                publish_lines(client, lines[start : start + 50], topics.events, None)
                time.sleep(0.3)
        finally:
            client.close()
            published.set()

    feeder = threading.Thread(target=upstream, daemon=True)
    workers = [fengkong_process(worker_args(postgres_url, bootstrap, topics, group, batch_size=40), logs[0])]
    try:
        feeder.start()
        wait_for(lambda: owns(logs[0]), 30, "the first worker's partitions")
        for n in (1, 2):  # two workers, then three: each join moves partitions while events flow
            workers.append(fengkong_process(worker_args(postgres_url, bootstrap, topics, group, 40), logs[n]))
            wait_for(lambda: owns(logs[n]), 60, f"worker {n + 1} to receive partitions")  # noqa: B023
        assert stop_process(workers[1]) == 0  # leaves the group at once
        workers[0].send_signal(signal.SIGKILL)  # dropped after the session timeout
        workers[0].wait()
        assert not published.is_set(), "the rebalances happened while upstream was still publishing"
        assert published.wait(120)
        try:
            wait_for(caught_up(postgres_url, bootstrap, topics.events), 120, "the last worker to catch up")
        except AssertionError as timed_out:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
            raise AssertionError(f"{timed_out}\n{tails}") from None
    finally:
        for process in workers:
            if process.poll() is None:
                stop_process(process)
    assert_same(snapshot(postgres_url), reference.snapshot)
    assert len(dead_letter_sources(bootstrap, topics.dead_letters)) == reference.rejected
    assert all(owns(log) for log in logs)
    assert "partitions [0, 1, 2]" in logs[2].read_text(), "the survivor ended with every partition"


def owns(log: Path) -> bool:
    """True once the worker logged a non-empty assignment."""
    return bool(re.search(r"positioned partitions \[\d", log.read_text() if log.exists() else ""))


class Stalled(DeadLetterTopic):
    """Holds the batch just before its transaction, like a worker stuck in a long GC pause."""

    def __init__(self, producer: Any, topic: str, gate: threading.Event) -> None:
        super().__init__(producer, topic)
        self.gate = gate
        self.stalled = threading.Event()

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        self.stalled.set()
        assert self.gate.wait(120)
        super().publish(letters)


def test_a_zombie_workers_late_batch_applies_nothing_twice(
    kafka_broker: Any, postgres_url: str, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=120, days=60, seed=4)
    reference = reference_run(lines, tmp_path / "reference.db")
    publish(bootstrap, lines, topics)
    open_engine(postgres_url)

    impatient = GroupTiming(session_timeout_ms=6_000, heartbeat_interval_ms=1_000, max_poll_interval_ms=3_000)
    zombie = Worker(
        open_engine(postgres_url),
        WorkerSettings(bootstrap, topics.events, topics.dead_letters, group, "zombie", timing=impatient),
    )
    gate = threading.Event()
    zombie.dead_letters = stall = Stalled(zombie.producer, topics.dead_letters, gate)
    polled: dict[Any, list[Any]] = {}
    deadline = time.monotonic() + 60
    while not polled:
        assert time.monotonic() < deadline, "the zombie never received records"
        polled = zombie.fetch()
    applying = threading.Thread(target=zombie.apply, args=(polled,), daemon=True)
    applying.start()
    assert stall.stalled.wait(30)  # results computed from the state before the successor's writes

    successor = WorkerThread(postgres_url, bootstrap, topics, group).start()
    wait_for(caught_up(postgres_url, bootstrap, topics.events), 90, "the successor to take over and catch up")
    before = reader(postgres_url).positions(topics.events)
    gate.set()  # the zombie wakes up and writes its stale batch
    applying.join(60)
    assert not applying.is_alive()
    successor.stop()
    zombie.close()

    assert zombie.stats.accepted == 0 and zombie.stats.duplicates > 0, zombie.stats
    assert reader(postgres_url).positions(topics.events) == before, "positions never go back"
    assert_same(snapshot(postgres_url), reference.snapshot)
