"""Rows 3 and 5, run in a row's child process: the bare consumer, the engine end to end, latency.

The sample workload is already on its topic (benchmarks.kafka). Every
rate here is records of that topic per second, timed from the first record a
consumer received to the end, so a consumer group's join is not counted in
any row; the engine's end is when its recorded positions reached the topic's
end offsets and the command relay had published the whole outbox.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from adapters.bootstrap import open_engine, open_log, open_outbox
from adapters.kafka.client import KafkaConsumer, KafkaProducer, TopicPartition
from adapters.kafka.clock import day_closed_copies
from adapters.kafka.config import NOTIFICATION_HEADER, header
from adapters.kafka.worker import WorkerSettings
from adapters.settings import Settings
from adapters.store.readers import StoredOutbox
from benchmarks import kafka_trace
from benchmarks.kafka import end_offsets
from benchmarks.measure import peak_rss_mib, percentile
from benchmarks.workload import Workload
from engine.application import RiskEngine
from events.recorded import FACT_TOPIC, decode

Spec = dict[str, Any]
CHECK_EVERY_S = 0.02
KEEP_TRACES_ENV = "FENGKONG_BENCH_TRACES"  # a folder: the latency row copies its stage traces there
WORKER_FIGURES = ("accepted", "batches", "polls", "fetch_seconds", "apply_seconds")


class RowFailed(RuntimeError):
    """A process of the row died or the row did not finish in time."""


# ---------------------------------------------------------------- the ceiling


def kafka_bare(spec: Spec) -> dict[str, Any]:
    """A kafka-python consumer group member that only reads and orjson-decodes every record of the topic.

    It has the worker's consumer settings (poll size, fetch sizes), so it is
    the ceiling of the engine's own client: what is left of a worker when
    nothing is validated, applied, stored or published.
    """
    worker = WorkerSettings(bootstrap_servers=spec["bootstrap"])
    total = spec["published"]["records"]
    consumer = KafkaConsumer(
        spec["published"]["topics"]["events"],
        bootstrap_servers=spec["bootstrap"],
        group_id=f"fengkong-bench-bare-{uuid.uuid4().hex[:8]}",
        client_id="fengkong-bench-bare",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=worker.max_poll_records,
        fetch_max_bytes=worker.max_batch_bytes,
        max_partition_fetch_bytes=min(worker.max_batch_bytes, 1024 * 1024),
    )
    received = decoded_bytes = 0
    first: float | None = None
    deadline = time.monotonic() + spec["timeout_s"]
    try:
        while received < total:
            if time.monotonic() > deadline:
                raise RowFailed(f"read {received:,} of {total:,} records in {spec['timeout_s']} s")
            for records in consumer.poll(timeout_ms=500).values():
                if first is None:
                    first = time.perf_counter()
                for record in records:
                    orjson.loads(record.value)
                    decoded_bytes += len(record.value)
                received += len(records)
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        consumer.close(autocommit=False)
    return {
        "events": received,
        "seconds": round(seconds, 3),
        "events_per_second": round(received / seconds, 1) if seconds else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "value_mib": round(decoded_bytes / 2**20, 1),
        "max_poll_records": worker.max_poll_records,
    }


# ---------------------------------------------------------------- the engine's processes


class Pipeline:
    """N `benchmarks.kafka_worker` processes in one group and one `fengkong relay`, on one store."""

    def __init__(
        self,
        spec: Spec,
        topics: dict[str, Any],
        workers: int,
        ready_file: Path | None = None,
        trace_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.trace_dir = trace_dir  # traced processes (benchmarks.kafka_trace) write their stage timings there
        self.topics = topics
        self.store = spec["store"]
        self.reader: RiskEngine = open_engine(
            Settings(store=self.store)
        )  # creates the schema before the processes start
        self.group = f"fengkong-bench-{uuid.uuid4().hex[:8]}"
        # The processes' logs (progress, conflicts between workers) go to a file, shown if the row fails.
        self.log_path = Path(tempfile.mkdtemp(prefix="fengkong-bench-")) / "pipeline.log"
        self.log = self.log_path.open("ab")
        self.workers = [self._worker(index, ready_file) for index in range(workers)]
        self.relay = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.kafka_relay", orjson.dumps(self._relay_spec()).decode()]
            if trace_dir
            else [
                sys.executable,
                "-c",
                "from adapters.cli import main; main()",
                "relay",
                "--store",
                self.store,
                "--bootstrap-servers",
                spec["bootstrap"],
                "--topic",
                topics["commands"],
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def _relay_spec(self) -> Spec:
        assert self.trace_dir is not None
        return {
            "bootstrap": self.spec["bootstrap"],
            "store": self.store,
            "commands_topic": self.topics["commands"],
            "trace": str(self.trace_dir / "relay.json"),
        }

    def _worker(self, index: int, ready_file: Path | None) -> subprocess.Popen[bytes]:
        spec = {
            "bootstrap": self.spec["bootstrap"],
            "store": self.store,
            "topics": self.topics,
            "group": self.group,
            "index": index,
            "cache_size": self.spec["cache_size"],
            "batch_size": self.spec.get("worker_batch_size"),
            "ready_file": str(ready_file) if ready_file else None,
            "trace": str(self.trace_dir / f"worker-{index}.json") if self.trace_dir else None,
        }
        return subprocess.Popen(
            [sys.executable, "-m", "benchmarks.kafka_worker", orjson.dumps(spec).decode()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )

    def check_alive(self) -> None:
        for name, process in [*(("worker", w) for w in self.workers), ("relay", self.relay)]:
            if process.poll() is not None:
                raise RowFailed(f"the {name} process exited with {process.returncode}; {self.log_tail()}")

    def log_tail(self) -> str:
        self.log.flush()
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return "its log ends: " + " / ".join(lines[-5:]) if lines else "its log is empty"

    def outbox(self) -> StoredOutbox:
        return open_outbox(Settings(store=self.store, commands_topic=self.topics["commands"]))

    def recorded(self, ends: dict[int, int]) -> bool:
        positions = self.reader.positions(self.topics["events"])
        return all(positions.get(partition, 0) >= end for partition, end in ends.items())

    def relayed(self) -> bool:
        """True once the relay's recorded position is past the last recorded decision."""
        outbox = self.outbox()
        try:
            return outbox.page(outbox.position(), 1).read == 0
        finally:
            outbox.close()

    def wait(self, condition: Callable[[], bool], deadline: float, what: str) -> float:
        """Poll `condition` until it holds; the wall-clock time it was first seen to hold."""
        while not condition():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RowFailed(f"timed out waiting for {what}; {self.log_tail()}")
            time.sleep(CHECK_EVERY_S)
        return time.time()

    def stop(self) -> list[dict[str, Any]]:
        """SIGTERM every process (they finish their batch and leave the group); the workers' reports."""
        for process in [*self.workers, self.relay]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        reports = []
        for process in self.workers:
            out, _ = process.communicate(timeout=120)
            lines = out.strip().splitlines()
            reports.append(orjson.loads(lines[-1]) if lines else {})
        self.relay.wait(timeout=120)
        self.reader.close()
        self.log.close()
        shutil.rmtree(self.log_path.parent, ignore_errors=True)  # kept only when the row fails
        return reports

    def kill(self) -> None:
        for process in [*self.workers, self.relay]:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.log.close()


def kafka_engine(spec: Spec) -> dict[str, Any]:
    """`fengkong worker` x N and `fengkong relay` from the published topic to the commands topic."""
    published = spec["published"]
    topics = dict(published["topics"])
    topics["commands"] = spec["commands_topic"]
    ends = {int(p): end for p, end in published["end_offsets"].items()}
    total = published["records"]
    pipeline = Pipeline(spec, topics, spec["workers"])
    deadline = time.monotonic() + spec["timeout_s"]
    try:
        recorded_at = pipeline.wait(lambda: pipeline.recorded(ends), deadline, "the workers to record every offset")
        relayed_at = pipeline.wait(pipeline.relayed, deadline, "the relay to publish every command")
    except BaseException:
        pipeline.kill()
        raise
    reports = pipeline.stop()
    starts = [r["first_record_at"] for r in reports if r.get("first_record_at")]
    if not starts:
        raise RowFailed("no worker reported its first record")
    started = min(starts)
    seconds = relayed_at - started
    stats = [r["stats"] for r in reports]
    published_commands = sum(end_offsets(spec["bootstrap"], topics["commands"]).values())
    return {
        "events": total,
        "seconds": round(seconds, 3),
        "events_per_second": round(total / seconds, 1),
        "recorded_seconds": round(recorded_at - started, 3),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in reports),
        "workers": spec["workers"],
        "store": "PostgreSQL" if spec["store"].startswith("postgres") else "SQLite",
        "accepted": sum(s["accepted"] for s in stats),
        "duplicates": sum(s["duplicates"] for s in stats),
        "rejected": sum(s["rejected"] for s in stats),
        "batches": sum(s["batches"] for s in stats),
        "commands": sum(s["commands"] for s in stats),
        "commands_published": published_commands,
        "max_poll_records": reports[0].get("max_poll_records"),
        "per_worker": [{key: r.get(key, r["stats"].get(key)) for key in WORKER_FIGURES} for r in reports],
        # PostgreSQL: each worker's hold of the table lock (benchmarks.pglock); one worker's is the ceiling's.
        "locks": [r["lock"] for r in reports if r.get("lock")],
    }


# ---------------------------------------------------------------- row 5


class CommandWatcher(threading.Thread):
    """Reads the commands topic from its start and notes when each command arrived, by its cause."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="fengkong-bench-commands",
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
        )
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning(*self.partitions)
        self.arrivals: list[tuple[str, float]] = []
        self.notifications: list[int] = []  # the notification id of each arrival (its header), for the stages
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for records in self.consumer.poll(timeout_ms=100).values():
                now = time.time()
                for record in records:
                    self.arrivals.append((orjson.loads(record.value)["cause_event_id"], now))
                    self.notifications.append(int(header(record.headers, NOTIFICATION_HEADER) or -1))

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        self.consumer.close(autocommit=False)


@dataclass
class Paced:
    sent: dict[str, float]  # event_id -> wall-clock send time
    days: set[str]  # the event ids of the DayClosed sent
    seconds: float


def _pace(bootstrap: str, topics: dict[str, Any], lines: list[bytes], rate: float) -> Paced:
    """Publish `lines` at `rate` per second as upstream would, noting when each event was sent."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, client_id="fengkong-bench-paced", enable_idempotence=True, acks="all", linger_ms=5
    )
    sent: dict[str, float] = {}
    days: set[str] = set()
    started = time.perf_counter()
    try:
        for index, line in enumerate(lines):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            event = orjson.loads(line)
            sent.setdefault(event["event_id"], time.time())
            if event["type"] == "DayClosed":
                days.add(event["event_id"])
                day_closed_copies(producer, topics["events"], line, topics["partitions"])
            else:
                producer.send(topics["events"], key=event["account_id"].encode(), value=line)
        producer.flush(timeout=60)
    finally:
        producer.close()
    return Paced(sent, days, time.perf_counter() - started)


def _recorded_at(store: str) -> dict[str, float]:
    """event_id -> when the engine recorded its fact (the stored state's `at`, seconds), for the stages."""
    log = open_log(Settings(store=store))
    try:
        found: dict[str, float] = {}
        for notification in log.read_topics([FACT_TOPIC]):
            state = decode(notification.state)
            found.setdefault(state["fact"]["event_id"], state["at"] / 1000)
        return found
    finally:
        log.close()


def _stages(times: list[tuple[float, float, float]], counted_from: float) -> dict[str, float]:
    """Where the time goes, p50 and p99 in ms: from publication to the fact recorded (the worker's poll and
    batch, up to its preparation), and from there to the command's arrival (commit, relay, broker, consumer)."""
    kept = [(s, r, a) for s, r, a in times if s >= counted_from]
    if not kept:
        return {}
    worker = sorted((r - s) * 1000 for s, r, _ in kept)
    after = sorted((a - r) * 1000 for _, r, a in kept)
    return {
        "to_recorded_p50_ms": round(percentile(worker, 0.5), 1),
        "to_recorded_p99_ms": round(percentile(worker, 0.99), 1),
        "recorded_to_arrival_p50_ms": round(percentile(after, 0.5), 1),
        "recorded_to_arrival_p99_ms": round(percentile(after, 0.99), 1),
    }


def latency(spec: Spec) -> dict[str, Any]:
    """Events offered at a fixed rate; each command's arrival on the commands topic minus its cause's send time."""
    topics = spec["topics"]
    rate, seconds, warmup = spec["rate"], spec["seconds"], spec["warmup_s"]
    lines = list(Workload(**{**spec["workload"], "path": Path(spec["workload"]["path"])}).lines(int(rate * seconds)))
    ready = Path(tempfile.mkdtemp(prefix="fengkong-bench-")) / "ready"  # the worker touches it once it owns partitions
    traces = Path(tempfile.mkdtemp(prefix="fengkong-bench-trace-"))
    pipeline = Pipeline(spec, topics, 1, ready_file=ready, trace_dir=traces)
    watcher = CommandWatcher(spec["bootstrap"], topics["commands"], topics["partitions"])
    deadline = time.monotonic() + spec["timeout_s"]
    # This process notes the send and arrival times: its own collector must not walk the 100,000s of lines
    # and send times it holds (a full collection would delay a send or an arrival after its time was noted).
    gc.freeze()
    row_gc = kafka_trace.GcPauses()
    try:
        watcher.start()
        pipeline.wait(ready.exists, deadline, "the worker to join its group")
        shutil.rmtree(ready.parent)
        offered_from = time.time()
        paced = _pace(spec["bootstrap"], topics, lines, rate)
        sent = paced.sent
        ends = end_offsets(spec["bootstrap"], topics["events"])
        pipeline.wait(lambda: pipeline.recorded(ends), deadline, "the worker to record every offset")
        pipeline.wait(pipeline.relayed, deadline, "the relay to publish every command")
        commands = sum(end_offsets(spec["bootstrap"], topics["commands"]).values())
        pipeline.wait(lambda: len(watcher.arrivals) >= commands, deadline, "the commands to arrive")
        drained = max(arrived for _, arrived in watcher.arrivals) - max(sent.values()) if commands else 0.0
    except BaseException:
        pipeline.kill()
        raise
    finally:
        watcher.stop()
    recorded = _recorded_at(spec["store"])
    reports = pipeline.stop()
    breakdown = kafka_trace.breakdown(
        kafka_trace.read(traces / "worker-0.json"),
        kafka_trace.read(traces / "relay.json"),
        sent,
        [(cause, arrived, n) for (cause, arrived), n in zip(watcher.arrivals, watcher.notifications, strict=True)],
        offered_from + warmup,
        paced.days,
    )
    breakdown["row_gc"] = kafka_trace.gc_summary(row_gc.pauses, offered_from + warmup)
    if os.environ.get(KEEP_TRACES_ENV):  # the raw traces, for a closer look at one run
        shutil.copytree(traces, os.environ[KEEP_TRACES_ENV], dirs_exist_ok=True)
    shutil.rmtree(traces, ignore_errors=True)
    counted = [
        (cause, (arrived - sent[cause]) * 1000)
        for cause, arrived in watcher.arrivals
        if cause in sent and sent[cause] >= offered_from + warmup
    ]
    stages = _stages(
        [(sent[cause], recorded[cause], arrived) for cause, arrived in watcher.arrivals if cause in recorded]
        if recorded
        else [],
        offered_from + warmup,
    )
    measured = sorted(ms for _, ms in counted)
    by_accounts = sorted(ms for cause, ms in counted if cause not in paced.days)
    by_days = sorted(ms for cause, ms in counted if cause in paced.days)
    if not measured:
        raise RowFailed("no command was caused by an event sent after the warm-up")
    return {
        "events": len(lines),
        "seconds": round(paced.seconds, 3),
        "events_per_second": round(len(lines) / paced.seconds, 1),
        "peak_rss_mib": max([r.get("peak_rss_mib", 0.0) for r in reports] + [round(peak_rss_mib(), 1)]),
        "offered_rate": rate,
        "warmup_s": warmup,
        "commands": len(watcher.arrivals),
        "measured_commands": len(measured),
        "p50_ms": round(percentile(measured, 0.50), 1),
        "p95_ms": round(percentile(measured, 0.95), 1),
        "p99_ms": round(percentile(measured, 0.99), 1),
        "max_ms": round(measured[-1], 1),
        "last_command_after_last_event_s": round(drained, 2),
        "account_event_commands": len(by_accounts),
        "account_event_p50_ms": round(percentile(by_accounts, 0.50), 1) if by_accounts else None,
        "account_event_p99_ms": round(percentile(by_accounts, 0.99), 1) if by_accounts else None,
        "stages": stages,
        "breakdown": breakdown,
        "day_commands": len(by_days),
        "day_p99_ms": round(percentile(by_days, 0.99), 1) if by_days else None,
        "store": "PostgreSQL" if spec["store"].startswith("postgres") else "SQLite",
        "batches": sum(r["stats"]["batches"] for r in reports if r),
        "max_poll_records": reports[0].get("max_poll_records") if reports else None,
        "worker": {key: reports[0].get(key) for key in ("polls", "fetch_seconds", "apply_seconds")},
    }
