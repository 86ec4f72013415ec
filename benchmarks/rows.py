"""The rows of the benchmark and the code each runs in its own child process.

A row is measured by a function `(spec) -> dict` registered in MEASURES;
a row whose subject has not landed yet names the reason instead (`pending`),
and the report prints "not measured yet (reason)" for it rather than a figure.

To plug in a row: write its function (return `_finish(meter, events, ...)`,
which gives events, seconds, events_per_second and peak_rss_mib), register
it in MEASURES, and pass what it needs beyond the workload (a broker
address, a store) through `Options.extra[row name]` or a branch in
runner.Bench._measure. The Kafka rows (benchmarks.kafka_rows) get the
broker and the published sample from the runner; the Quix Streams peer
(benchmarks.peer) runs in its own environment, outside MEASURES.
"""

from __future__ import annotations

import resource
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from adapters.audit.parallel import AuditPool
from adapters.bootstrap import open_engine, requested_policy
from adapters.settings import Settings
from adapters.store.backends import engine_env, overlaps_commits
from adapters.store.urls import is_postgres
from benchmarks import floor, split
from benchmarks.kafka_rows import kafka_bare, kafka_engine, latency
from benchmarks.measure import Meter, peak_rss_mib
from benchmarks.naive import Naive
from benchmarks.pglock import watch_lock
from benchmarks.readmodels import measure_live_lag, measure_rebuild
from benchmarks.storage import per_event, postgres_sizes, sqlite_sizes
from benchmarks.workload import Workload
from engine.application import RiskEngine, parse_all
from engine.collector import cyclic_gc_paused
from engine.overlap import process_batches
from engine.personal import Owner
from events.inbound import InvalidEvent, ParsedEvent

Spec = dict[str, Any]
Measure = Callable[[Spec], dict[str, Any]]


class NotMeasured(Exception):
    """A row that cannot be measured in this run; the reason is printed instead."""


@dataclass(frozen=True)
class Row:
    name: str
    section: str
    title: str
    pending: str | None = None  # why the row is not measured yet, until its subject lands


ROWS: tuple[Row, ...] = (
    Row("floor.sqlite", "1 ingest, SQLite", "floor: validate, dedup, one rule, fact/dedup/decision rows"),
    Row("sqlite.engine", "1 ingest, SQLite", "engine: batched, deduplicated, cached"),
    Row("sqlite.engine.unsealed", "1 ingest, SQLite", "the same without sealing personal data (encryption's cost)"),
    Row("sqlite.naive", "1 ingest, SQLite", "naive: one Application.save() per event"),
    Row("floor.postgres", "2 ingest, PostgreSQL", "floor on PostgreSQL (psycopg executemany, unique event_id)"),
    Row("floor.postgres.locked", "2 ingest, PostgreSQL", "floor taking eventsourcing's EXCLUSIVE table lock"),
    Row("postgres.engine", "2 ingest, PostgreSQL", "engine: batched, deduplicated, cached"),
    Row("postgres.naive", "2 ingest, PostgreSQL", "naive: one Application.save() per event"),
    Row("storage.sqlite", "3 storage", "bytes stored per inbound event: the SQLite engine row's store, compacted"),
    Row("storage.postgres", "3 storage", "bytes stored per inbound event: the PostgreSQL engine row's store"),
    Row("kafka.bare", "4 Kafka end-to-end", "ceiling: bare kafka-python consumer, read and decode only"),
    Row("kafka.engine.1", "4 Kafka end-to-end", "engine, 1 worker: topic to decisions and published commands"),
    Row("kafka.engine.2", "4 Kafka end-to-end", "engine, 2 workers (processes, one group)"),
    Row("kafka.engine.4", "4 Kafka end-to-end", "engine, 4 workers on 2 cores (contention shown, not hidden)"),
    Row("kafka.engine.1.postgres", "4 Kafka end-to-end", "engine, 1 worker, PostgreSQL store"),
    Row("kafka.engine.2.postgres", "4 Kafka end-to-end", "engine, 2 workers, PostgreSQL store"),
    Row("kafka.engine.4.postgres", "4 Kafka end-to-end", "engine, 4 workers, PostgreSQL store"),
    Row("peer.quixstreams", "5 peer", "Quix Streams app: overdue report -> lock command, stateful per key"),
    Row("latency", "6 latency", "event published to command received, at the offered load"),
    Row("latency.high", "6 latency", "the same at the higher offered load"),
    Row("rebuild.projections", "7 replay", "projection rebuild: every read model from the notification log"),
    Row("projections.lag", "7 replay", "live lag: read models following the engine's commits"),
    Row("audit.replay", "7 replay", "audit --all: every decision re-derived and compared"),
    Row("flat.floor.sqlite", "8 flat as it grows", "the floor on the smaller workload: how flat the least pipeline is"),
    Row("flat.sqlite.engine", "8 flat as it grows", "engine ingest on the smaller workload (same seed)"),
    Row("flat.rebuild.projections", "8 flat as it grows", "projection rebuild of the smaller workload's store"),
    Row("flat.audit.replay", "8 flat as it grows", "audit replay of the smaller workload's store"),
    Row("split.postgres.shared", "9 scale-out", "2 engines, accounts split in 2 ranges, ONE database"),
    Row("split.postgres.split", "9 scale-out", "2 engines, accounts split in 2 ranges, a database per range"),
    Row("memory", "10 memory", "peak RSS of the SQLite engine ingest, by progress"),
)
ROW_NAMES = tuple(row.name for row in ROWS)


# ---------------------------------------------------------------- helpers


def _workload(spec: Spec) -> Workload:
    data = dict(spec["workload"])
    data["path"] = Path(data["path"])
    return Workload(**data)


def _finish(meter: Meter, events: int, **extra: Any) -> dict[str, Any]:
    seconds = meter.seconds
    cpu = time.process_time() - meter.cpu_started
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1) if seconds else None,
        "events_per_cpu_second": round(events / cpu, 1) if cpu else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_samples": meter.rss,
        "marks": meter.marks,
        **extra,
    }


# ---------------------------------------------------------------- rows 1 and 2


class Unsealed:
    """A PersonalData port that seals nothing: only to measure what sealing costs (never in the product)."""

    def prepare(self, owners: Iterable[Owner]) -> None:
        return None

    def seal(self, item: ParsedEvent, owner: Owner) -> ParsedEvent:
        return item

    def close(self) -> None:
        return None


def _parsed(batch: list[bytes]) -> list[ParsedEvent | InvalidEvent]:
    with cyclic_gc_paused():
        return parse_all(batch)


def ingest_engine(spec: Spec) -> dict[str, Any]:
    """The engine's batched path, as `fengkong ingest` drives it (`unsealed`: personal data not sealed); on
    PostgreSQL, each batch decided while the last one commits (engine.overlap), and the table lock timed too."""
    workload = _workload(spec)
    settings = Settings(store=spec["store"], cache_size=spec["cache_size"])
    engine = (
        RiskEngine(
            requested_policy(settings), Unsealed(), env=engine_env(settings.store), cache_size=settings.cache_size
        )
        if spec.get("unsealed")
        else open_engine(settings)
    )
    outcomes: Counter[str] = Counter()
    commands = done = 0
    overlapped = overlaps_commits(spec["store"])  # as `fengkong ingest` decides
    with ExitStack() as stack:
        lock = stack.enter_context(watch_lock()) if is_postgres(spec["store"]) else None
        meter = Meter(workload.events, label=spec["row"])
        batches = ((batch, _parsed(batch)) for batch in floor.batches(workload.lines(), spec["batch_size"]))
        for batch, results in process_batches(engine, batches, overlap=overlapped):
            for result in results:
                outcomes[result.outcome.value] += 1
                commands += len(result.commands)
            done += len(batch)
            meter.mark(done)
    engine.close()
    extra = {"lock": lock.report(meter.seconds)} if lock is not None else {}
    return _finish(
        meter,
        done,
        outcomes=dict(outcomes),
        commands=commands,
        cache_size=spec["cache_size"],
        batch_size=spec["batch_size"],
        overlapped=overlapped,
        **extra,
    )


def in_sample(line: bytes, every: int) -> bool:
    """Whether a message belongs to the naive rows' sample: one account in `every`, and every DayClosed."""
    try:
        account_id = orjson.loads(line).get("account_id")
    except (orjson.JSONDecodeError, AttributeError):
        return True
    if not isinstance(account_id, str):
        return True
    return zlib.crc32(account_id.encode()) % every == 0


def ingest_naive(spec: Spec) -> dict[str, Any]:
    """One load and one transaction per event, over a sample of the accounts, within a time budget.

    The sample keeps whole accounts across the whole timeline, so its mix of
    event types is the workload's (the start of a workload is mostly
    AccountOpened); the naive rate hardly depends on how many other accounts
    the store holds, while it would take hours to run through all of them.
    """
    workload = _workload(spec)
    lines = [line for line in workload.lines() if in_sample(line, spec["sample"])]
    engine = open_engine(Settings(store=spec["store"]))
    app = Naive(engine)
    budget = spec["budget_seconds"]
    outcomes: Counter[str] = Counter()
    commands = done = 0
    meter = Meter(len(lines), label=spec["row"])
    deadline = time.perf_counter() + budget
    for line in lines:
        outcome, emitted = app.handle(line)
        outcomes[outcome] += 1
        commands += emitted
        done += 1
        if done % 100 == 0:
            meter.mark(done)
            if time.perf_counter() >= deadline:
                break
    if not meter.marks or meter.marks[-1][0] != done:
        meter.mark(done)
    engine.close()
    return _finish(
        meter,
        done,
        outcomes=dict(outcomes),
        commands=commands,
        budget_seconds=budget,
        sample=spec["sample"],
        sample_events=len(lines),
    )


# ---------------------------------------------------------------- row 3


def storage(spec: Spec) -> dict[str, Any]:
    """Bytes per inbound event of the store an engine row wrote (benchmarks.storage)."""
    meter = Meter(1)
    store = spec["store"]
    sizes = postgres_sizes(store) if is_postgres(store) else sqlite_sizes(Path(store), Path(spec["folder"]))
    meter.mark(1)
    figures = per_event(sizes, spec["inbound_events"], spec["input_bytes"])
    result = _finish(meter, spec["inbound_events"], **figures)
    result["events_per_second"] = None  # not a rate: the seconds are the measurement's own
    return result


# ---------------------------------------------------------------- row 7


def audit_replay(spec: Spec) -> dict[str, Any]:
    """`fengkong audit --all` over the store an engine row wrote, on every core; rate in inbound events.

    Timed from the first read (listing the accounts) to the last verdict and the brake's ledger proven, as
    the command does, once the worker processes have started and opened the store (their start and imports
    are not in it).
    """
    jobs = spec["jobs"]
    facts = accounts = differing = 0
    with AuditPool(Settings(store=spec["store"]), jobs) as pool:
        pool.start()
        meter = Meter(spec["inbound_events"] or 1, label=spec["row"])
        ledger = pool.brake_ledger()
        for verdict in pool.audit():
            accounts += 1
            facts += verdict.facts
            differing += not verdict.identical
            if accounts % 1000 == 0:
                meter.mark(facts)
        brake = ledger.result()
        meter.mark(facts)
    if differing or not brake.identical:
        raise RuntimeError(
            f"audit replay found {differing} accounts whose decisions differ and "
            f"{len(brake.differences)} differences in the brake's ledger"
        )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = _finish(
        meter,
        spec["inbound_events"],
        facts=facts,
        accounts=accounts,
        identical=accounts - differing,
        brake_verdicts=brake.verdicts,
        brake_batches=brake.batches,
    )
    result["jobs"] = jobs
    result["events_per_cpu_second"] = None  # the work is in the worker processes
    result["peak_rss_mib"] = round(max(result["peak_rss_mib"], children), 1)
    return result


def rebuild_projections(spec: Spec) -> dict[str, Any]:
    """Drop and rebuild every read model from the store an engine row wrote; rate in inbound events."""
    meter = Meter(1)
    figures = measure_rebuild(spec["store"], jobs=spec["jobs"])
    meter.mark(figures.events)
    result = _finish(
        meter,
        spec["inbound_events"],
        notifications=figures.events,
        projections=list(figures.projections),
        jobs=figures.jobs,
    )
    result["seconds"] = figures.seconds
    result["events_per_second"] = round(spec["inbound_events"] / figures.seconds, 1) if figures.seconds else None
    return result


def projections_lag(spec: Spec) -> dict[str, Any]:
    """The engine ingests a sample in small batches while a follower keeps the read models current.

    The sample is the naive rows' (whole accounts over the whole timeline), so the mix of
    notifications is the workload's; each batch's lag is from its commit until every
    projection has applied it (benchmarks.readmodels.measure_live_lag).
    """
    workload = _workload(spec)
    lines = (line for line in workload.lines() if in_sample(line, spec["sample"]))
    meter = Meter(1)
    figures = measure_live_lag(spec["store"], floor.batches(lines, spec["batch_size"]))
    meter.mark(figures.events)
    lag = {"p50_ms": figures.p50 * 1000, "p95_ms": figures.p95 * 1000, "max_ms": figures.max * 1000}
    return _finish(
        meter,
        figures.events,
        batches=figures.batches,
        batch_size=spec["batch_size"],
        sample=spec["sample"],
        **{key: round(value, 1) for key, value in lag.items()},
    )


MEASURES: dict[str, Measure] = {
    "floor.sqlite": floor.measure,
    "sqlite.engine": ingest_engine,
    "sqlite.engine.unsealed": ingest_engine,
    "sqlite.naive": ingest_naive,
    "floor.postgres": floor.measure,
    "floor.postgres.locked": floor.measure,
    "postgres.engine": ingest_engine,
    "postgres.naive": ingest_naive,
    "storage.sqlite": storage,
    "storage.postgres": storage,
    "audit.replay": audit_replay,
    "rebuild.projections": rebuild_projections,
    "projections.lag": projections_lag,
    "flat.floor.sqlite": floor.measure,
    "flat.sqlite.engine": ingest_engine,
    "flat.rebuild.projections": rebuild_projections,
    "flat.audit.replay": audit_replay,
    "split.postgres.shared": split.measure,
    "split.postgres.split": split.measure,
    "kafka.bare": kafka_bare,
    "kafka.engine.1": kafka_engine,
    "kafka.engine.2": kafka_engine,
    "kafka.engine.4": kafka_engine,
    "kafka.engine.1.postgres": kafka_engine,
    "kafka.engine.2.postgres": kafka_engine,
    "kafka.engine.4.postgres": kafka_engine,
    "latency": latency,
    "latency.high": latency,
}
# peer.quixstreams runs in the peer's own environment: benchmarks.peer, started by the runner.
