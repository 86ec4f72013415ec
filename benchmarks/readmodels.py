"""Figures for the benchmark command: rebuild throughput and live lag of the read models.

Speed is measured and printed, never asserted: these functions return the
figures and leave judging them to whoever reads the report.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adapters.bootstrap import open_engine, projection_runner
from adapters.rebuild.parallel import rebuild
from adapters.settings import Settings


@dataclass(frozen=True)
class RebuildFigures:
    projections: tuple[str, ...]
    events: int
    seconds: float
    events_per_second: float
    jobs: int


@dataclass(frozen=True)
class LagFigures:
    """Seconds from an ingest batch's commit until every projection has applied it."""

    batches: int
    events: int
    mean: float
    p50: float
    p95: float
    max: float


def measure_rebuild(store: str, names: Sequence[str] | None = None, jobs: int = 1) -> RebuildFigures:
    """Drop and rebuild the read models (all by default) on `jobs` processes, as `fengkong projections rebuild`.

    Timed from the first read of any process to the last commit (the processes' start and imports are not in
    it); events are the notifications read.
    """
    rebuilt = rebuild(Settings(store=store), names, jobs)
    seconds = rebuilt.seconds
    events = rebuilt.notifications
    return RebuildFigures(
        rebuilt.projections, events, round(seconds, 3), round(events / seconds, 1) if seconds else 0.0, rebuilt.jobs
    )


def measure_live_lag(
    store: str,
    batches: Iterable[Sequence[bytes | str]],
    poll_interval: float = 0.05,
    pause: float = 0.0,
    timeout: float = 120.0,
) -> LagFigures:
    """Ingest `batches` through the engine while a follower keeps the read models current.

    For each batch: the time from the engine's commit until the follower has applied every
    notification it wrote. The follower runs in a thread of this process, polling every
    `poll_interval` seconds when idle; `pause` spaces the batches out.
    """
    settings = Settings(store=store)
    engine = open_engine(settings)
    runner = projection_runner(settings)
    runner.catch_up()
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop, poll_interval), name="projections", daemon=True)
    follower.start()
    lags: list[float] = []
    events = 0
    try:
        for batch in batches:
            engine.process(batch)
            committed = time.perf_counter()
            head = engine.head()
            if not runner.wait_for(head, timeout):
                raise TimeoutError(f"read models still behind notification {head} after {timeout}s")
            lags.append(time.perf_counter() - committed)
            events += len(batch)
            if pause:
                time.sleep(pause)
    finally:
        stop.set()
        follower.join(timeout)
        runner.close()
        engine.close()
    if not lags:
        return LagFigures(0, 0, 0.0, 0.0, 0.0, 0.0)
    ordered = sorted(lags)
    return LagFigures(
        len(lags),
        events,
        round(statistics.fmean(lags), 4),
        round(ordered[len(ordered) // 2], 4),
        round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 4),
        round(ordered[-1], 4),
    )
