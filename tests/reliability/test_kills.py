"""SIGKILL at the worst instants, chosen by hypothesis, then restart: nothing lost, nothing applied twice.

A real `fengkong worker` and `fengkong relay` run side by side on PostgreSQL;
FENGKONG_FAULT (adapters/runtime/faults.py) makes one or both SIGKILL themselves the
n-th time they pass a named point: after the dead letters were acknowledged
and before the transaction, inside the store transaction, after the commit
and before the Kafka offset hint, while the relay is handing a page to the
producer, after the broker acknowledged a page and before the relay recorded
its position. Hypothesis picks the points and n. The killed processes are
restarted (the worker in a new consumer group: offsets come from the store,
so the group does not matter; restarts in the same group are covered by
tests/kafka/test_crash_and_scale.py). Each example ends with `fengkong
reconcile` clean and the store equal to a clean run of the same input.

Short form: one example per point (each costs two process starts, ~15 s);
FENGKONG_LONG=1 adds random ones.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from adapters.kafka.clock import ClockRelay, ClockSettings
from adapters.kafka.config import CLOCK_ORIGIN_HEADER, CLOCK_PARTITION_HEADER
from adapters.kafka.publish import publish_lines
from adapters.runtime import faults
from adapters.runtime.faults import FAULT_ENV
from tests.kafka.support import (
    FAST,
    Topics,
    WorkerThread,
    assert_same,
    caught_up,
    fengkong_process,
    headers,
    portfolio,
    producer,
    publish,
    read_topic,
    relay_args,
    snapshot,
    stop_process,
    wait_for,
    worker_args,
)
from tests.reliability.support import cached_reference, close_readers, reconcile, settle, topic_args
from tests.support.wiring import open_engine

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

LONG = os.environ.get("FENGKONG_LONG") == "1"
BATCH, PAGE = 20, 10
LINES = portfolio(accounts=150, days=80, seed=5)  # 1,513 messages: about 80 batches of 20, 170 commands

WORKER_POINTS = ("worker.before_transaction", "store.in_transaction", "worker.after_transaction")
RELAY_POINTS = ("relay.after_send", "relay.after_ack", "store.in_transaction")
# Upper bounds for n that the run surely reaches: batches, commands, and pages holding commands.
REACHED = {"worker": 60, "relay.after_send": 80, "relay.after_ack": 6, "store.in_transaction": 6}


@dataclass(frozen=True)
class Fault:
    process: str  # worker | relay
    point: str
    n: int

    @property
    def env(self) -> dict[str, str]:
        return {FAULT_ENV: f"{self.point}:{self.n}"}


@st.composite
def fault_pairs(draw: st.DrawFn) -> tuple[Fault | None, Fault | None]:
    worker_point = draw(st.sampled_from(WORKER_POINTS))
    worker = Fault("worker", worker_point, draw(st.integers(1, REACHED["worker"])))
    relay = None
    if draw(st.booleans()):
        point = draw(st.sampled_from(RELAY_POINTS))
        relay = Fault("relay", point, draw(st.integers(1, REACHED[point])))
    return (worker if draw(st.booleans()) or relay is None else None), relay


def killed_at(process: subprocess.Popen[bytes], fault: Fault, log: Path, timeout_s: float = 90.0) -> None:
    """Wait for the process to die by its own fault, and check it died where it was told to."""
    process.wait(timeout_s)
    assert process.returncode == -signal.SIGKILL, f"{fault} did not fire; exit {process.returncode}"
    assert f"SIGKILL at {fault.point}, pass {fault.n}" in log.read_text(), log.read_text()[-2000:]


def run_with_faults(
    worker_fault: Fault | None,
    relay_fault: Fault | None,
    postgres_server: Any,
    bootstrap: str,
    topics: Topics,
    work: Path,
) -> None:
    store = postgres_server.create_database(f"kill_{uuid.uuid4().hex[:12]}")
    open_engine(store)
    logs = {"worker": work / "worker.log", "relay": work / "relay.log"}
    group = f"kills-{uuid.uuid4().hex[:8]}"

    def start(name: str, fault: Fault | None) -> subprocess.Popen[bytes]:
        args = worker_args(store, bootstrap, topics, group, BATCH) if name == "worker" else None
        args = args or relay_args(store, bootstrap, topics, PAGE)
        return fengkong_process(args, logs[name], fault.env if fault else None)

    processes = {"worker": start("worker", worker_fault), "relay": start("relay", relay_fault)}
    try:
        for name, fault in (("worker", worker_fault), ("relay", relay_fault)):
            if fault is not None:
                killed_at(processes[name], fault, logs[name])
                if name == "worker":
                    group = f"kills-{uuid.uuid4().hex[:8]}"  # restart: the store, not the group, says where
                processes[name] = start(name, None)
        settle(store, bootstrap, topics, 120)
    finally:
        codes = {name: stop_process(process) for name, process in processes.items()}
        close_readers()
    assert codes == {"worker": 0, "relay": 0}, {name: path.read_text()[-2000:] for name, path in logs.items()}
    reconcile(store, *topic_args(bootstrap, topics))
    assert_same(snapshot(store), cached_reference(LINES).snapshot)


EXPLICIT = [
    (Fault("worker", "worker.before_transaction", 7), Fault("relay", "relay.after_ack", 2)),
    (Fault("worker", "store.in_transaction", 23), Fault("relay", "relay.after_send", 31)),
    (Fault("worker", "worker.after_transaction", 41), Fault("relay", "store.in_transaction", 3)),
]


def test_sigkill_at_chosen_points_then_restart_loses_and_repeats_nothing(
    kafka_broker: Any, postgres_server: Any, new_topic: Any, tmp_path: Path, record_property: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    tried: list[str] = []

    @settings(
        max_examples=20 if LONG else 1,
        deadline=None,
        phases=[Phase.explicit, Phase.generate] if LONG else [Phase.explicit],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(chosen=fault_pairs())
    @example(chosen=EXPLICIT[0])
    @example(chosen=EXPLICIT[1])
    @example(chosen=EXPLICIT[2])
    def check(chosen: tuple[Fault | None, Fault | None]) -> None:
        worker_fault, relay_fault = chosen
        topics = Topics(
            events=new_topic(3, prefix="billing.events"),
            dead_letters=new_topic(1, prefix="billing.events.dlq"),
            clock=new_topic(1, prefix="billing.clock"),
            commands=new_topic(3, prefix="risk.commands"),
            partitions=3,
        )
        publish(bootstrap, LINES, topics)
        work = tmp_path / f"example{len(tried)}"
        work.mkdir()
        tried.append(f"{worker_fault} {relay_fault}")
        run_with_faults(worker_fault, relay_fault, postgres_server, bootstrap, topics, work)

    check()
    record_property("examples", len(tried))
    print(f"\n{len(tried)} kill examples:\n  " + "\n  ".join(tried))


class Crash(BaseException):
    """The clock relay 'dies' (its thread ends without committing), like a SIGKILL at that instant."""


def test_clock_relay_dying_after_its_copies_repeats_them_and_changes_nothing(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    days: list[list[bytes]] = [[]]
    for line in portfolio(accounts=100, days=40, seed=12):
        days[-1].append(line)
        if b'"DayClosed"' in line:
            days.append([])
    lines = [line for day in days for line in day]
    reference = cached_reference(lines)
    store = str(tmp_path / "store.db")

    def crash_on_pass(n: int) -> faults.Action:
        def action(count: int, context: object) -> None:
            if count == n:
                raise Crash(f"clock relay died after copying, before committing (pass {n})")

        return action

    def start_clock() -> tuple[ClockRelay, threading.Thread, threading.Event]:
        relay = ClockRelay(ClockSettings(bootstrap, topics.clock, topics.events, topics.dead_letters, timing=FAST))
        stop = threading.Event()
        thread = threading.Thread(target=lambda: _run_until_crash(relay, stop), daemon=True)
        thread.start()
        return relay, thread, stop

    faults.arm("clock.after_copies", crash_on_pass(12))
    clock, thread, stop = start_clock()
    copied = 0
    worker = WorkerThread(store, bootstrap, topics, group).start()
    upstream = producer(bootstrap)
    try:
        for closed, day in enumerate(days, start=1):
            publish_lines(upstream, day, topics.events, topics.clock)
            if not any(b'"DayClosed"' in line for line in day):
                continue
            wait_for(lambda: copied + clock.copied >= closed or not thread.is_alive(), 30, "the copies", 0.01)  # noqa: B023
            if not thread.is_alive():  # it died having copied this day: a new relay copies it again
                copied += clock.copied - 1
                faults.disarm()
                clock, thread, stop = start_clock()
                wait_for(lambda: copied + clock.copied >= closed, 30, "the copies, again", 0.01)  # noqa: B023
        wait_for(caught_up(store, bootstrap, topics.events), 120, "the worker to record every offset")
        worker.stop()
    finally:
        faults.disarm()
        upstream.close()
        stop.set()
        thread.join(30)
    copies = Counter(
        (headers(r).get(CLOCK_ORIGIN_HEADER), headers(r)[CLOCK_PARTITION_HEADER])
        for r in read_topic(bootstrap, topics.events)
        if r.headers
    )
    assert sorted(set(copies.values())) == [1, 2], "the day copied before the crash was copied again, once"
    reconcile(store, *topic_args(bootstrap, topics, commands=False), "--topic", topics.clock)
    assert_same(snapshot(store), reference.snapshot)


def _run_until_crash(relay: ClockRelay, stop: threading.Event) -> None:
    with contextlib.suppress(Crash):
        relay.run(stop)
