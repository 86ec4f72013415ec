"""One engine worker process of the Kafka rows: `python -m benchmarks.kafka_worker SPEC_JSON`.

It runs adapters.kafka.worker.Worker, the loop `fengkong worker` runs, with
the same settings, and only notes the wall-clock time of the first poll that
returned records (the rows are timed from there, like the bare consumer, so
the group join is not counted). Stops on SIGTERM as `fengkong worker` does,
then prints one JSON line: its stats, that time and its peak RSS.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from pathlib import Path

import orjson

from adapters.bootstrap import open_engine
from adapters.kafka.config import GroupTiming
from adapters.kafka.worker import Worker, WorkerSettings
from adapters.runtime.signals import stop_on_signals
from adapters.settings import Settings
from benchmarks.kafka_trace import WorkerTrace, write
from benchmarks.measure import peak_rss_mib


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
    polls = 0
    fetching = applying = 0.0
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
    }
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
