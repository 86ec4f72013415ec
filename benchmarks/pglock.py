"""How long the engine's batches hold eventsourcing's PostgreSQL table lock, and what that caps.

eventsourcing's PostgreSQL recorder takes `LOCK TABLE stored_events IN
EXCLUSIVE MODE` in every write transaction, so that notification ids follow
commit order; every writer of one database therefore waits for the others,
whatever the number of workers. A batch holds the lock from the moment it is
granted until its commit returns: one database cannot record more than
(events per batch / hold time) events per second, however many workers
share it.

`LockWatch` measures that in a benchmark process without changing what the
recorder does: around the recorder's own lock statement it forces the
pipeline to sync (one extra round trip per batch, so the clock starts once
the lock is granted, not when the statement is queued), and the clock stops
when `insert_events` returns, after the commit.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from adapters.store.postgres.events import PostgresEngineRecorder
from benchmarks.measure import percentile


@dataclass
class LockWatch:
    """Each write transaction's lock hold (seconds) and the events it wrote."""

    held: list[float] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)  # from the lock statement queued to the lock granted
    _granted: float | None = None

    def report(self, wall_seconds: float) -> dict[str, Any]:
        """The hold time's distribution, the share of the run the lock was held, and the ceiling it implies."""
        if not self.held:
            return {}
        held = sorted(self.held)
        p50 = statistics.median(held)
        per_batch = statistics.median(self.events)
        return {
            "batches": len(held),
            "events_per_batch_p50": per_batch,
            "p50_ms": round(p50 * 1000, 2),
            "p95_ms": round(percentile(held, 0.95) * 1000, 2),
            "max_ms": round(held[-1] * 1000, 2),
            "held_share": round(sum(held) / wall_seconds, 3) if wall_seconds else None,
            # One writer at a time: batches of this size, back to back, each holding the lock for the median.
            "ceiling_events_per_second": round(per_batch / p50, 1) if p50 else None,
        }


@contextmanager
def watch_lock() -> Iterator[LockWatch]:
    """Time every lock hold of PostgresEngineRecorder in this process while the block runs."""
    watch = LockWatch()
    lock_table: Callable[..., None] = PostgresEngineRecorder._lock_table
    insert_events: Callable[..., Any] = PostgresEngineRecorder.insert_events
    own = {name: PostgresEngineRecorder.__dict__.get(name) for name in ("_lock_table", "insert_events")}

    def timed_lock(recorder: PostgresEngineRecorder, curs: Any) -> None:
        asked = time.perf_counter()
        lock_table(recorder, curs)
        with curs.connection.pipeline():  # a nested pipeline block syncs on exit: the lock is granted now
            pass
        watch._granted = time.perf_counter()
        watch.waits.append(watch._granted - asked)  # an upper bound: the statements queued before it run first

    def timed_insert(recorder: PostgresEngineRecorder, stored_events: Sequence[Any], **kwargs: Any) -> Any:
        watch._granted = None
        result = insert_events(recorder, stored_events, **kwargs)
        if watch._granted is not None:
            watch.held.append(time.perf_counter() - watch._granted)
            watch.events.append(len(stored_events))
        return result

    PostgresEngineRecorder._lock_table = timed_lock  # type: ignore[method-assign,assignment]
    PostgresEngineRecorder.insert_events = timed_insert  # type: ignore[method-assign]
    try:
        yield watch
    finally:
        for name, method in own.items():  # back to exactly what the class had (its own or inherited)
            if method is None:
                delattr(PostgresEngineRecorder, name)
            else:
                setattr(PostgresEngineRecorder, name, method)
