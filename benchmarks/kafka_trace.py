"""Stage timings of the latency row: where a command's time goes, from its cause's publication to its arrival.

The end-to-end figure alone cannot say which stage makes the tail, and on a
shared machine its tail is inflated by other processes. So the worker and the
relay processes note, per transaction and per page, when each stage ended
(wall clock, `time.time()`), and every pause of the cyclic garbage collector;
the row joins them per command by its cause's event id and its notification
id. Nothing here changes what the processes do: the engine's `prepare` and
`commit`, the outbox's reads and writes and the producer's flush are wrapped
on the instances, only to note the time.
"""

from __future__ import annotations

import bisect
import gc
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.measure import percentile

Trace = dict[str, Any]
cpu_ms = [0.0]  # the CPU milliseconds of the last call `_timed` wrapped (the notes read it)


def _timed(note: Callable[[float, float, Any, Any], None], method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` calling `note(started, ended, args, result)` after each call; its CPU time in `cpu_ms`."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.time(), time.thread_time()
        result = method(*args, **kwargs)
        cpu_ms[0] = (time.thread_time() - cpu) * 1000  # this thread's CPU: what the call cost, whatever the load
        note(started, time.time(), args, result)
        return result

    return wrapper


class GcPauses:
    """Every cyclic collection of this process: (start, ms, generation), through `gc.callbacks`."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.time()
        else:
            self.pauses.append((self._started, (time.time() - self._started) * 1000, int(info["generation"])))


class WorkerTrace:
    """Per poll (returned at, records) and per transaction (its events, prepare and commit times) of a worker."""

    def __init__(self, engine: Any) -> None:
        self.polls: list[tuple[float, float, int]] = []  # (started, returned, records)
        self.transactions: list[dict[str, Any]] = []
        self.gc = GcPauses()
        self.apply_cpu_s = 0.0  # the main thread's CPU in Worker.apply: parse, route, prepare, commit
        self._prepared: dict[int, tuple[float, float, float, list[str]]] = {}
        engine.prepare = _timed(self._on_prepare, engine.prepare)
        engine.commit = _timed(self._on_commit, engine.commit)

    def poll(self, started: float, returned: float, records: int) -> None:
        if records:
            self.polls.append((started, returned, records))

    def _on_prepare(self, started: float, ended: float, args: Any, result: Any) -> None:
        ids = [item.event.event_id for item in args[0] if hasattr(item, "event")]
        self._prepared[id(result)] = (started, ended, cpu_ms[0], ids)

    def _on_commit(self, started: float, ended: float, args: Any, result: Any) -> None:
        prepare_started, prepared, prepare_cpu, ids = self._prepared.pop(id(args[0]), (started, started, 0.0, []))
        self.transactions.append(
            {
                "poll": len(self.polls) - 1,
                "prepare_started": prepare_started,
                "prepared": prepared,
                "commit_started": started,
                "committed": ended,
                "prepare_cpu_ms": prepare_cpu,
                "commit_cpu_ms": cpu_ms[0],
                "events": ids,
            }
        )

    def jsonable(self) -> Trace:
        return {
            "polls": self.polls,
            "transactions": self.transactions,
            "gc": self.gc.pauses,
            "cpu_s": _cpu(),
            "apply_cpu_s": round(self.apply_cpu_s, 3),
        }


class RelayTrace:
    """Per page of the command relay: when the head moved, the page was read, sent, acknowledged and recorded."""

    def __init__(self, relay: Any) -> None:
        self.pages: list[dict[str, Any]] = []
        self.gc = GcPauses()
        self._head = -1
        self._head_seen = 0.0
        self._page: dict[str, Any] = {}
        outbox, producer = relay.outbox, relay.producer
        outbox.head = _timed(self._on_head, outbox.head)
        outbox.page = _timed(self._on_page, outbox.page)
        outbox.advance = _timed(self._on_advance, outbox.advance)
        producer.flush = _timed(self._on_flush, producer.flush)

    def _on_head(self, started: float, ended: float, args: Any, head: Any) -> None:
        if head > self._head:
            self._head, self._head_seen = head, ended

    def _on_page(self, started: float, ended: float, args: Any, page: Any) -> None:
        self._page = {}
        if page.read:
            self._page = {
                "head_seen": self._head_seen,
                "read_started": started,
                "read": ended,
                "first": args[0],
                "next": page.next_position,
                "commands": len(page.commands),
                "read_cpu_ms": cpu_ms[0],
            }

    def _on_flush(self, started: float, ended: float, args: Any, result: Any) -> None:
        if self._page:
            self._page["acked"], self._page["flush_cpu_ms"] = ended, cpu_ms[0]

    def _on_advance(self, started: float, ended: float, args: Any, result: Any) -> None:
        if self._page:
            self._page["advance_started"], self._page["advanced"] = started, ended
            self._page["advance_cpu_ms"] = cpu_ms[0]
            self.pages.append(self._page)
            self._page = {}

    def jsonable(self) -> Trace:
        return {"pages": self.pages, "gc": self.gc.pauses, "cpu_s": _cpu()}


def _cpu() -> float:
    """This process's CPU seconds (user + system), all its threads."""
    return round(time.process_time(), 3)


def write(path: str | None, trace: Trace) -> None:
    if path:
        Path(path).write_bytes(orjson.dumps(trace))


def read(path: Path) -> Trace:
    return orjson.loads(path.read_bytes()) if path.exists() else {}


# ---------------------------------------------------------------- the analysis, in the row's process

STAGES = (
    ("to_poll", "published to the worker's poll returning it (broker, fetch, the worker busy before)"),
    ("queued", "poll returned to its transaction's prepare (parsing, earlier transactions of that poll)"),
    ("prepare", "the engine's prepare (load, apply, decide, encode)"),
    ("commit", "prepared to committed (the dead letters' acknowledgement, then the transaction)"),
    ("to_relay", "committed to the relay reading its page (the relay's wake-up, earlier pages)"),
    ("relay_send", "page read to every command acknowledged (producer linger, broker, acks)"),
    ("to_arrival", "acknowledged to the command's arrival at the consumer (its fetch)"),
)


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(values[-1], 1),
    }


def breakdown(
    worker: Trace,
    relay: Trace,
    sent: dict[str, float],
    arrivals: list[tuple[str, float, int]],
    counted_from: float,
    days: set[str],
) -> dict[str, Any]:
    """Each stage's p50/p99/max (ms) over the account events' commands, and the stages of the slowest 1%.

    A command's stages add up to its total: each runs from the end of the one before to its own end.
    """
    polls = worker.get("polls", [])
    by_event: dict[str, dict[str, Any]] = {}
    for transaction in worker.get("transactions", []):
        for event_id in transaction["events"]:
            by_event.setdefault(event_id, transaction)
    pages = sorted(relay.get("pages", []), key=lambda page: page["first"])
    firsts = [page["first"] for page in pages]
    rows: list[dict[str, float]] = []
    for cause, arrived, notification in arrivals:
        transaction = by_event.get(cause)
        if cause in days or transaction is None or sent.get(cause, 0.0) < counted_from or transaction["poll"] < 0:
            continue
        page = _page_of(pages, firsts, notification)
        if page is None or "acked" not in page:
            continue
        polled = polls[transaction["poll"]][1]
        rows.append(
            {
                "total": (arrived - sent[cause]) * 1000,
                "to_poll": (polled - sent[cause]) * 1000,
                "queued": (transaction["prepare_started"] - polled) * 1000,
                "prepare": (transaction["prepared"] - transaction["prepare_started"]) * 1000,
                "commit": (transaction["committed"] - transaction["prepared"]) * 1000,
                "to_relay": (page["read"] - transaction["committed"]) * 1000,
                "relay_send": (page["acked"] - page["read"]) * 1000,
                "to_arrival": (arrived - page["acked"]) * 1000,
            }
        )
    if not rows:
        return {}
    rows.sort(key=lambda row: row["total"])
    tail = rows[int(len(rows) * 0.99) :]
    stages = {name: _ms([row[name] for row in rows]) for name in ("total", *(name for name, _ in STAGES))}
    return {
        "commands": len(rows),
        "stages_ms": stages,
        "slowest_1pct_mean_ms": {
            name: round(sum(row[name] for row in tail) / len(tail), 1) for name in ("total", *(n for n, _ in STAGES))
        },
        "worker_gc": gc_summary(worker.get("gc", []), counted_from),
        "relay_gc": gc_summary(relay.get("gc", []), counted_from),
        "transactions": _transactions(worker.get("transactions", []), counted_from),
        "relay_pages": _pages(pages, counted_from),
        "worker_cpu_s": worker.get("cpu_s"),
        "worker_apply_cpu_s": worker.get("apply_cpu_s"),
        "worker_events": sum(len(t["events"]) for t in worker.get("transactions", [])),
        "relay_cpu_s": relay.get("cpu_s"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def _page_of(pages: list[dict[str, Any]], firsts: list[int], notification: int) -> dict[str, Any] | None:
    index = bisect.bisect_right(firsts, notification) - 1
    if index < 0 or notification >= pages[index]["next"]:
        return None
    return pages[index]


def gc_summary(pauses: Sequence[Sequence[float]], counted_from: float) -> dict[str, Any]:
    kept = [pause for pause in pauses if pause[0] >= counted_from]
    full = [pause[1] for pause in kept if pause[2] == 2]
    return {
        "collections": len(kept),
        "total_ms": round(sum(pause[1] for pause in kept), 1),
        "max_ms": round(max((pause[1] for pause in kept), default=0.0), 1),
        "gen2": len(full),
        "gen2_max_ms": round(max(full, default=0.0), 1),
    }


def _transactions(transactions: list[dict[str, Any]], counted_from: float) -> dict[str, Any]:
    kept = [t for t in transactions if t["prepare_started"] >= counted_from]
    if not kept:
        return {}
    return {
        "count": len(kept),
        "events": _ms([float(len(t["events"])) for t in kept]),
        "prepare_ms": _ms([(t["prepared"] - t["prepare_started"]) * 1000 for t in kept]),
        "commit_ms": _ms([(t["committed"] - t["commit_started"]) * 1000 for t in kept]),
        "prepare_cpu_ms": _ms([t["prepare_cpu_ms"] for t in kept]),
        "commit_cpu_ms": _ms([t["commit_cpu_ms"] for t in kept]),
        # CPU of the worker's thread per transaction = fixed + per event (least squares): what a small batch costs
        "cpu_fit": _fit([(len(t["events"]), t["prepare_cpu_ms"] + t["commit_cpu_ms"]) for t in kept]),
    }


def _fit(points: list[tuple[int, float]]) -> dict[str, float]:
    """Least squares of y = fixed + per_event * n: the fixed ms per transaction and the µs per event."""
    count = len(points)
    mean_n = sum(n for n, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((n - mean_n) ** 2 for n, _ in points)
    slope = sum((n - mean_n) * (y - mean_y) for n, y in points) / spread if spread else 0.0
    return {"fixed_ms": round(mean_y - slope * mean_n, 2), "per_event_us": round(slope * 1000, 1)}


def _pages(pages: list[dict[str, Any]], counted_from: float) -> dict[str, Any]:
    kept = [p for p in pages if p["read_started"] >= counted_from and "acked" in p]
    if not kept:
        return {}
    return {
        "count": len(kept),
        "commands": _ms([float(p["commands"]) for p in kept]),
        "head_to_read_ms": _ms([(p["read"] - p["head_seen"]) * 1000 for p in kept]),
        "read_ms": _ms([(p["read"] - p["read_started"]) * 1000 for p in kept]),
        "send_ack_ms": _ms([(p["acked"] - p["read"]) * 1000 for p in kept]),
        "advance_ms": _ms([(p["advanced"] - p["advance_started"]) * 1000 for p in kept]),
        "cpu_ms": _ms([p["read_cpu_ms"] + p.get("flush_cpu_ms", 0.0) + p["advance_cpu_ms"] for p in kept]),
    }
