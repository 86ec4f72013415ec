"""One engine worker process of the Kafka rows: `python -m benchmarks.kafka_worker SPEC_JSON`.

It runs adapters.kafka.worker.Worker, the loop `fengkong worker` runs, with
the same settings, and only notes the wall-clock time of the first poll that
returned records (the rows are timed from there, like the bare consumer, so
the group join is not counted). On PostgreSQL it also times each
transaction's hold of the table lock (benchmarks.pglock): a Kafka worker
commits in turn, so its hold is the one that caps a database shared by
workers. Stops on SIGTERM as `fengkong worker` does, then prints one JSON
line: its stats, that time, its lock holds and its peak RSS.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import orjson

from adapters.bootstrap import open_engine
from adapters.kafka.config import GroupTiming
from adapters.kafka.worker import Worker, WorkerSettings
from adapters.runtime.signals import stop_on_signals
from adapters.settings import Settings
from adapters.store.urls import is_postgres
from benchmarks.kafka_trace import WorkerTrace, write
from benchmarks.measure import peak_rss_mib
from benchmarks.pglock import watch_lock


@dataclass
class _Run:
    """The worker's loop as timed from the first poll that returned records."""

    first: float | None = None  # wall clock of that poll
    last: float = 0.0  # wall clock when the last records were applied: the lock's share is of first..last
    polls: int = 0
    fetching: float = 0.0
    applying: float = 0.0


def _run(worker: Worker, stop: threading.Event, trace: WorkerTrace | None, ready: Path | None) -> _Run:
    """Poll and apply until SIGTERM, as `Worker.run` does, noting the times the rows are measured by."""
    run = _Run()
    worker.start()
    while not stop.is_set():
        started = time.perf_counter()
        polled = worker.fetch()
        fetched = time.perf_counter()
        if trace is not None:
            trace.poll(time.time() - (fetched - started), time.time(), sum(map(len, polled.values())))
        if polled and run.first is None:
            run.first = time.time()
        cpu = time.thread_time()
        worker.apply(polled)
        if polled:
            run.last = time.time()
            if trace is not None:
                trace.apply_cpu_s += time.thread_time() - cpu
        if run.first is not None:
            run.polls += 1
            run.fetching += fetched - started
            run.applying += time.perf_counter() - fetched
        if ready is not None and worker.owned():
            ready.touch()
            ready = None
    return run


def main() -> None:
    spec = orjson.loads(sys.argv[1])
    stop = stop_on_signals(signal.SIGTERM)
    engine = open_engine(Settings(store=spec["store"], cache_size=spec["cache_size"]))
    defaults = WorkerSettings(bootstrap_servers=spec["bootstrap"])
    settings = dataclasses.replace(
        defaults,
        topic=spec["topics"]["events"],
        dead_letter_topic=spec["topics"]["dead_letters"],
        group_id=spec["group"],
        client_id=f"fengkong-bench-worker-{spec['index']}",
        max_poll_records=spec.get("batch_size") or defaults.max_poll_records,
        timing=GroupTiming(session_timeout_ms=6_000, heartbeat_interval_ms=1_000),
    )
    worker = Worker(engine, settings)
    trace = WorkerTrace(engine) if spec.get("trace") else None
    ready = Path(spec["ready_file"]) if spec.get("ready_file") else None
    with watch_lock() if is_postgres(spec["store"]) else nullcontext() as lock:
        try:
            run = _run(worker, stop, trace, ready)
        finally:
            worker.close()
            if trace is not None:
                write(spec["trace"], trace.jsonable())
    result = {
        "first_record_at": run.first,
        "stats": dataclasses.asdict(worker.stats),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "max_poll_records": settings.max_poll_records,
        "polls": run.polls,
        "fetch_seconds": round(run.fetching, 3),
        "apply_seconds": round(run.applying, 3),
        "lock": lock.report(run.last - run.first) if lock is not None and run.first is not None else None,
    }
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
