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
import time
from contextlib import ExitStack
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
    first: float | None = None
    last = 0.0  # when the last batch with records was applied: the lock's share of the run is of first..last
    polls = 0
    fetching = applying = 0.0
    with ExitStack() as stack:
        lock = stack.enter_context(watch_lock()) if is_postgres(spec["store"]) else None
        try:
            worker.start()
            while not stop.is_set():
                started = time.perf_counter()
                polled = worker.fetch()
                fetched = time.perf_counter()
                if trace is not None:
                    trace.poll(time.time() - (fetched - started), time.time(), sum(map(len, polled.values())))
                if polled and first is None:
                    first = time.time()
                cpu = time.thread_time()
                worker.apply(polled)
                if polled:
                    last = time.time()
                if trace is not None and polled:
                    trace.apply_cpu_s += time.thread_time() - cpu
                if first is not None:
                    polls += 1
                    fetching += fetched - started
                    applying += time.perf_counter() - fetched
                if ready is not None and worker.owned():
                    ready.touch()
                    ready = None
        finally:
            worker.close()
            if trace is not None:
                write(spec["trace"], trace.jsonable())
    result = {
        "first_record_at": first,
        "stats": dataclasses.asdict(worker.stats),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "max_poll_records": settings.max_poll_records,
        "polls": polls,
        "fetch_seconds": round(fetching, 3),
        "apply_seconds": round(applying, 3),
        "lock": lock.report(last - first) if lock is not None and first is not None else None,
    }
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
