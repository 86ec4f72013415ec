"""Scale-out beyond one database, simulated: the store split by partition range (docs/scale.md).

The workload's accounts are spread over `PARTITIONS` partitions as Kafka's
default partitioner spreads them (murmur2 of the account id), and the
partitions are cut into as many contiguous ranges as there are engines. Each
engine runs in its own process and ingests the events of its range, with
each DayClosed brought to its own accounts only (`day_scope`), exactly as a
Kafka worker owning those partitions does. Two rows:

* `split.postgres.shared`: every engine writes to ONE database: they share
  eventsourcing's table lock, so their write transactions queue for it;
* `split.postgres.split`: each range has a database of its own on the same
  server: no lock is shared, each database holds one range's streams, its
  own clock and its own deduplication index.

Both report the events per second of all engines together (from the first
read of any engine to the last commit of all), each database's lock hold
times, and how long transactions waited for the lock. The engines start
together, once every one of them has read its events and opened its store.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson

from adapters.bootstrap import open_engine
from adapters.kafka.partitioning import partition_for
from adapters.settings import Settings
from benchmarks.measure import peak_rss_mib, percentile
from benchmarks.pglock import watch_lock
from benchmarks.workload import Workload

PARTITIONS = 4
READY_TIMEOUT_S = 600.0  # for every engine process to read its events and open its store


def ranges(engines: int, partitions: int = PARTITIONS) -> list[set[int]]:
    """Contiguous partition ranges, one per engine: 4 partitions, 2 engines -> {0, 1}, {2, 3}."""
    return [set(range(partitions * i // engines, partitions * (i + 1) // engines)) for i in range(engines)]


def _range_of(line: bytes) -> int | None:
    """The partition of a message's account (None for a DayClosed: every range gets it)."""
    account_id = orjson.loads(line).get("account_id")
    return None if account_id is None else partition_for(str(account_id).encode(), PARTITIONS)


def _engine_process(spec: dict[str, Any], ready: Any, results: Any) -> None:
    """The body of one engine process: its figures (or its error) go to the `results` queue."""
    try:
        results.put(_engine(spec, ready))
    except BaseException as error:
        ready.abort()
        results.put({"error": f"{type(error).__name__}: {error}"})
        raise


def _engine(spec: dict[str, Any], ready: Any) -> dict[str, Any]:
    """One engine process: its range's events, timed from its first read to its last commit."""
    owned = set(spec["partitions"])
    data = dict(spec["workload"])
    workload = Workload(**{**data, "path": Path(data["path"])})
    lines = [line for line in workload.lines() if (p := _range_of(line)) is None or p in owned]
    engine = open_engine(Settings(store=spec["url"], cache_size=spec["cache_size"]))
    scope = lambda account_id: partition_for(account_id.encode(), PARTITIONS) in owned  # noqa: E731
    outcomes: Counter[str] = Counter()
    ready.wait(READY_TIMEOUT_S)
    with watch_lock() as lock:
        started = time.time()
        cpu = time.process_time()
        for start in range(0, len(lines), spec["batch_size"]):
            results = engine.process(lines[start : start + spec["batch_size"]], day_scope=scope)
            outcomes.update(result.outcome.value for result in results)
        ended = time.time()
        cpu_seconds = time.process_time() - cpu
    engine.close()
    days = sum(1 for line in lines if _range_of(line) is None)
    return {
        "partitions": sorted(owned),
        "events": len(lines),
        "account_events": len(lines) - days,
        "days": days,
        "started": started,
        "ended": ended,
        "cpu_seconds": round(cpu_seconds, 3),
        "outcomes": dict(outcomes),
        "lock": lock.report(ended - started),
        "waits": lock.waits,
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """A split row: `spec["urls"]` names each engine's database (the same one twice for the shared row)."""
    urls: list[str] = spec["urls"]
    context = get_context("spawn")
    ready, results = context.Barrier(len(urls)), context.Queue()
    processes = [
        context.Process(
            target=_engine_process, args=({**spec, "url": url, "partitions": sorted(owned)}, ready, results)
        )
        for url, owned in zip(urls, ranges(len(urls)), strict=True)
    ]
    for process in processes:
        process.start()
    engines = [results.get() for _ in processes]
    for process in processes:
        process.join()
    failed = [engine["error"] for engine in engines if "error" in engine]
    if failed:
        raise RuntimeError(f"an engine process failed: {failed[0]}")
    seconds = max(e["ended"] for e in engines) - min(e["started"] for e in engines)
    events = sum(e["account_events"] for e in engines) + engines[0]["days"]  # each DayClosed counted once
    waits = sorted(wait for e in engines for wait in e.pop("waits"))
    databases = len(set(urls))
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1),
        "peak_rss_mib": max(e["peak_rss_mib"] for e in engines),
        "engines": len(engines),
        "databases": databases,
        "partitions": PARTITIONS,
        "lock_wait_p50_ms": round(statistics.median(waits) * 1000, 2) if waits else None,
        "lock_wait_p95_ms": round(percentile(waits, 0.95) * 1000, 2) if waits else None,
        "per_engine": engines,
    }
