"""Helpers for the Kafka tests: topics, publishing, reading back, reference runs, store snapshots."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg

from adapters.cli.inspect import account_view
from adapters.kafka.client import KafkaConsumer, KafkaProducer, TopicPartition
from adapters.kafka.config import GroupTiming
from adapters.kafka.publish import publish_lines
from adapters.kafka.worker import Worker, WorkerSettings, WorkerStats
from adapters.store.urls import is_postgres
from adapters.synthetic.portfolio import Portfolio
from engine.batch import Outcome
from tests.support.wiring import open_engine

FENGKONG = str(Path(sys.executable).with_name("fengkong"))
FAST = GroupTiming(session_timeout_ms=6_000, heartbeat_interval_ms=1_000, max_poll_interval_ms=60_000)
FAST_FLAGS = ["--session-timeout-ms", "6000", "--heartbeat-ms", "1000", "--max-poll-interval-ms", "60000"]


@dataclass(frozen=True)
class Topics:
    events: str
    dead_letters: str
    clock: str
    commands: str
    partitions: int


def portfolio(accounts: int, days: int, seed: int = 11, noise: bool = True) -> list[bytes]:
    """A synthetic billing stream (with upstream retries and broken messages when noisy)."""
    return [orjson.dumps(event) for event in Portfolio(accounts, days, seed, noise=noise).events()]


def producer(bootstrap: str) -> Any:
    return KafkaProducer(bootstrap_servers=bootstrap, client_id="fengkong-tests", enable_idempotence=True)


def publish(bootstrap: str, lines: Iterable[bytes], topics: Topics, *, via_clock_topic: bool = False) -> None:
    """Publish as upstream does; by default DayClosed goes straight into every partition, in line."""
    client = producer(bootstrap)
    try:
        publish_lines(client, lines, topics.events, topics.clock if via_clock_topic else None)
    finally:
        client.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record now on `topic`, partition by partition (no consumer group)."""
    ends = end_offsets(bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        partitions = [TopicPartition(topic, p) for p in ends]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp.partition] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end in {timeout_s}s"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def headers(record: Any) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers or ()}


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(interval_s)


def caught_up(store: str, bootstrap: str, topic: str) -> Callable[[], bool]:
    """A predicate: the store has recorded every partition of `topic` up to its current end."""
    engine = open_engine(store)
    ends = end_offsets(bootstrap, topic)

    def done() -> bool:
        recorded = engine.positions(topic)
        return all(recorded.get(p, 0) >= end for p, end in ends.items())

    return done


# ------------------------------------------------------------ comparing runs


@dataclass
class Snapshot:
    """What must be equal between a run and a clean reference run."""

    event_ids: set[str]
    accounts: dict[str, dict[str, Any]]
    command_ids: list[str] = field(repr=False)
    command_info: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Snapshot)
            and self.event_ids == other.event_ids
            and self.accounts == other.accounts
            and sorted(self.command_ids) == sorted(other.command_ids)
        )

    __hash__ = None  # type: ignore[assignment]

    def differences(self, other: Snapshot) -> dict[str, Any]:
        """What differs, briefly: for an assertion message."""
        found: dict[str, Any] = {}
        if self.event_ids != other.event_ids:
            found["event_ids"] = {
                "extra": sorted(self.event_ids - other.event_ids)[:10],
                "missing": sorted(other.event_ids - self.event_ids)[:10],
            }
        accounts = sorted(set(self.accounts) | set(other.accounts))
        changed: dict[str, Any] = {}
        for account_id in accounts:
            mine, theirs = self.accounts.get(account_id), other.accounts.get(account_id)
            if mine != theirs:
                if mine is None or theirs is None:
                    changed[account_id] = (mine, theirs)
                else:
                    changed[account_id] = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs.get(k)}
        if changed:
            found["accounts"] = dict(list(changed.items())[:5])
            found["accounts_differing"] = len(changed)
        mine_c, theirs_c = Counter(self.command_ids), Counter(other.command_ids)
        if mine_c != theirs_c:
            info = {**other.command_info, **self.command_info}
            found["commands"] = {
                "extra": [(c, n, info.get(c)) for c, n in list((mine_c - theirs_c).items())[:10]],
                "missing": [(c, n, info.get(c)) for c, n in list((theirs_c - mine_c).items())[:10]],
            }
        return found


def assert_same(got: Snapshot, expected: Snapshot) -> None:
    differences = got.differences(expected)
    assert not differences, f"differs from the clean run: {differences}"


def inbound_ids(store: str) -> set[str]:
    if is_postgres(store):
        with psycopg.connect(store) as conn:
            return {row[0] for row in conn.execute("SELECT event_id FROM fengkong_inbound")}
    with sqlite3.connect(store) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM fengkong_inbound")}


def snapshot(store: str) -> Snapshot:
    engine = open_engine(store)
    accounts = {}
    for account_id in engine.account_ids():
        account = engine.account(account_id)
        assert account is not None
        accounts[account_id] = account_view(account)
    commands = list(engine.commands())
    info = {c.command_id: f"{c.account_id} {c.rule} {c.type} cause={c.cause_event_id}" for c in commands}
    return Snapshot(inbound_ids(store), accounts, [c.command_id for c in commands], info)


@dataclass
class Reference:
    snapshot: Snapshot
    rejected: int
    outcomes: dict[str, int]


def reference_run(lines: list[bytes], path: Path) -> Reference:
    """The clean run: every line through one engine, in order, no Kafka."""
    store = str(path)
    results = list(open_engine(store).ingest(lines))
    outcomes: dict[str, int] = {}
    for result in results:
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    return Reference(snapshot(store), outcomes.get(Outcome.REJECTED, 0), outcomes)


# ------------------------------------------------------------ running workers


class WorkerThread:
    """An in-process worker (its own engine) running until stopped."""

    def __init__(self, store: str, bootstrap: str, topics: Topics, group: str, **settings: Any) -> None:
        self.worker = Worker(
            open_engine(store),
            WorkerSettings(
                bootstrap_servers=bootstrap,
                topic=topics.events,
                dead_letter_topic=topics.dead_letters,
                group_id=group,
                timing=settings.pop("timing", FAST),
                poll_timeout_ms=200,
                **settings,
            ),
        )
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run(self.stop_event)
        except BaseException as error:  # kept for the test to inspect (a simulated crash, or a failure)
            self.error = error

    def start(self) -> WorkerThread:
        self.thread.start()
        return self

    def stop(self) -> WorkerStats:
        self.stop_event.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "worker did not stop within 60s"
        assert self.error is None, f"worker failed: {self.error!r}"
        return self.worker.stats


def fengkong_process(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`fengkong -v ARGS` as a child process, its output in `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [FENGKONG, "-v", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def worker_args(store: str, bootstrap: str, topics: Topics, group: str, batch_size: int = 100) -> list[str]:
    return [
        "worker",
        "--store",
        store,
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topics.events,
        "--dead-letter-topic",
        topics.dead_letters,
        "--group-id",
        group,
        "--batch-size",
        str(batch_size),
        *FAST_FLAGS,
    ]


def relay_args(store: str, bootstrap: str, topics: Topics, page: int = 100) -> list[str]:
    return [
        "relay",
        "--store",
        store,
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topics.commands,
        "--page",
        str(page),
    ]


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> int:
    """SIGTERM and wait (the graceful path); SIGKILL only if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"pid {process.pid} ignored SIGTERM for {timeout_s}s") from None
    return process.returncode
