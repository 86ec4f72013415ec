"""Soak: a worker process under steady load, its memory and lag sampled; neither may grow.

A `fengkong worker` (SQLite store, `--cache-size` 200) consumes a steady
stream published at a rate well below its capacity: every business day 100
accounts open, get a bill, some go overdue (lock) and all repay (unlock),
then fall quiet, so the working set moves through an ever larger population,
as in production. An unbounded cache would grow with every day. Every two seconds the test samples the worker's resident
memory (/proc/PID/status VmRSS) and its lag (end offsets minus the offsets
the store recorded).

Memory: once the account cache is full (the warm-up), the worker holds at
most `cache_size` accounts; everything else it keeps is bounded by the batch
and fetch sizes. So after the warm-up its resident memory may grow by at most
what the cached accounts themselves grow (accounts accumulate bills and
payments): `cache_size` times the footprint of the largest accounts at the
end, measured here with tracemalloc, plus a fixed allowance for the
allocator and SQLite's page caches. A leak proportional to the events
processed exceeds that within the run.

Lag: the rate is a fraction of capacity, so the lag stays within a few
batches; its trend over the run (least squares) must be flat, and it drains
to zero once the producer stops. Both are behaviour, not timing: a worker
that falls further behind with every batch fails whatever the machine.

Short form: 60 s (20 s warm-up), about 7,500 events and 2,400 accounts.
FENGKONG_LONG=1: 10 minutes (60 s warm-up), about 75,000 events and 24,000 accounts.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import threading
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.kafka.publish import publish_lines
from tests.kafka.support import (
    Topics,
    caught_up,
    end_offsets,
    fengkong_process,
    producer,
    stop_process,
    wait_for,
    worker_args,
)
from tests.reliability.support import reconcile, topic_args
from tests.support.wiring import open_engine

pytestmark = pytest.mark.kafka

LONG = os.environ.get("FENGKONG_LONG") == "1"
DURATION_S = 600.0 if LONG else 60.0
WARM_UP_S = 60.0 if LONG else 20.0
RATE = 125  # events per second: a tenth of what one worker applies on this 2-core machine
CACHE_SIZE = 200
NEW_PER_DAY = 100
SAMPLE_S = 2.0
ALLOWANCE_MIB = 4.0  # allocator arenas, SQLite page caches, fetch buffers: after the warm-up 0.3-0.9 MiB were seen
CST = timezone(timedelta(hours=8))


def rolling_accounts(events: int) -> list[bytes]:
    """Each day NEW_PER_DAY accounts open, are billed, one in ten goes overdue, all repay, then go quiet."""
    out: list[dict[str, Any]] = []
    day = 0
    start = date(2026, 3, 2)

    def at(offset: int, hour: int, n: int) -> str:
        moment = datetime.combine(start + timedelta(days=offset), datetime.min.time(), CST)
        return (moment + timedelta(hours=hour, seconds=n)).isoformat()

    def event(account: str, kind: str, when: str, data: dict[str, Any], seq: int) -> dict[str, Any]:
        body = {"event_id": f"{account}-{seq}", "type": kind, "occurred_at": when, "schema_version": 1, "data": data}
        return body | {"account_id": account}

    while len(out) < events:
        for n in range(NEW_PER_DAY):
            account = f"SOAK{day * NEW_PER_DAY + n:07d}"
            out.append(
                event(
                    account,
                    "AccountOpened",
                    at(day, 9, n),
                    {"customer_id": account, "credit_limit": "5000.00", "card_ref": "t"},
                    1,
                )
            )
            out.append(
                event(
                    account,
                    "BillIssued",
                    at(day, 10, n),
                    {"bill_id": "b1", "amount": "300.00", "due_date": str(start + timedelta(days=day))},
                    2,
                )
            )
        for n in range(NEW_PER_DAY):
            earlier = day - 1
            if earlier < 0:
                break
            account = f"SOAK{earlier * NEW_PER_DAY + n:07d}"
            if n % 10 == 0:
                out.append(
                    event(
                        account,
                        "OverdueReported",
                        at(day, 11, n),
                        {"bill_id": "b1", "days_past_due": 1, "outstanding": "300.00"},
                        3,
                    )
                )
            out.append(event(account, "RepaymentReceived", at(day, 15, n), {"payment_id": "p1", "amount": "300.00"}, 4))
        closed = start + timedelta(days=day)
        out.append(
            {
                "event_id": f"day-{closed}",
                "type": "DayClosed",
                "occurred_at": at(day, 23, 0),
                "schema_version": 1,
                "data": {"business_date": str(closed)},
            }
        )
        day += 1
    return [orjson.dumps(e) for e in out]


@dataclass
class Sample:
    at: float
    rss_mib: float
    lag: int


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def slope(samples: list[Sample]) -> float:
    """Least-squares growth of the lag, in events per second."""
    xs = [s.at for s in samples]
    ys = [float(s.lag) for s in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def account_footprint_mib(store: str, count: int) -> float:
    """Memory of the `count` accounts with the longest histories, loaded as the worker caches them."""
    engine = open_engine(store, cache_size=count)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for account_id in _busiest(store, count):
        engine.account(account_id)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / 2**20


def _busiest(store: str, count: int) -> list[str]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute(
            "SELECT originator_id FROM stored_events WHERE originator_id NOT LIKE '$%' "
            "GROUP BY originator_id ORDER BY count(*) DESC LIMIT ?",
            [count],
        ).fetchall()
    return [row[0] for row in rows]


def test_worker_memory_and_lag_do_not_grow_under_steady_load(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path, record_property: Any
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    lines = rolling_accounts(int(DURATION_S * RATE) + 500)
    store = str(tmp_path / "store.db")
    open_engine(store)
    reader = open_engine(store)
    log = tmp_path / "worker.log"
    args = [*worker_args(store, bootstrap, topics, group, batch_size=100), "--cache-size", str(CACHE_SIZE)]
    worker = fengkong_process(args, log)
    published = threading.Event()
    sent = [0]

    def upstream() -> None:
        client = producer(bootstrap)
        started = time.monotonic()
        try:
            while sent[0] < len(lines) and time.monotonic() - started < DURATION_S:
                due = min(len(lines), int((time.monotonic() - started) * RATE))
                if due > sent[0]:
                    publish_lines(client, lines[sent[0] : due], topics.events, None)
                    sent[0] = due
                time.sleep(0.25)
        finally:
            client.close()
            published.set()

    samples: list[Sample] = []
    feeder = threading.Thread(target=upstream, daemon=True)
    try:
        wait_for(lambda: "positioned partitions" in log.read_text(), 60, "the worker to join")
        started = time.monotonic()
        feeder.start()
        while not published.is_set():
            ends = end_offsets(bootstrap, topics.events)
            recorded = reader.positions(topics.events)
            lag = sum(end - recorded.get(p, 0) for p, end in ends.items())
            samples.append(Sample(time.monotonic() - started, rss_mib(worker.pid), lag))
            time.sleep(SAMPLE_S)
        wait_for(caught_up(store, bootstrap, topics.events), 60, "the lag to drain once the producer stopped")
        assert worker.poll() is None, "the worker died under load"
    finally:
        code = stop_process(worker)
    assert code == 0, log.read_text()[-2000:]

    warm = [s for s in samples if s.at >= WARM_UP_S]
    assert len(warm) >= 5, f"too few samples after the warm-up: {len(samples)}"
    footprint = account_footprint_mib(store, CACHE_SIZE)
    bound = footprint + ALLOWANCE_MIB
    growth = max(s.rss_mib for s in warm) - warm[0].rss_mib
    trend = slope(warm)
    figures = {
        "events": sent[0],
        "seconds": round(samples[-1].at, 1),
        "rss_at_warm_up_mib": round(warm[0].rss_mib, 1),
        "rss_max_mib": round(max(s.rss_mib for s in samples), 1),
        "rss_growth_after_warm_up_mib": round(growth, 1),
        "bound_mib": round(bound, 1),
        "cached_accounts_footprint_mib": round(footprint, 2),
        "lag_max": max(s.lag for s in samples),
        "lag_mean_after_warm_up": round(statistics.fmean(s.lag for s in warm), 1),
        "lag_trend_events_per_s": round(trend, 2),
    }
    for key, value in figures.items():
        record_property(key, value)
    print(f"\nsoak: {figures}")
    assert growth <= bound, f"memory grew {growth:.1f} MiB after the warm-up; bound {bound:.1f} MiB: {figures}"
    assert trend <= RATE * 0.02, f"lag grows by {trend:.1f} events/s: the worker falls behind ({figures})"
    reconcile(store, *topic_args(bootstrap, topics, commands=False))
