"""Every Prometheus series fengkong exports, in one place (prometheus_client).

Two kinds:
- process series, kept by the process that does the work, in prometheus_client's
  default registry (with its `process_*` and `python_*` series): the worker
  counts events, commands and batch latency and tracks its consumer lag, the
  relay its lag behind the outbox, the clock relay its copies;
- store series, read from the store and the read models when `/metrics` of
  the API is scraped (`StoreCollector`): projection lag, open reviews and
  their deadlines, the emergency brake's state and held locks (its record in
  the store, one for every worker), the stuck locks, the holiday calendar's
  coverage and the scorecard's population stability (the latest `fengkong
  score monitor` run). Every API process reports the same values for them.

No series carries personal data: labels are event and command types,
outcomes, topics, partitions and projection names, never an account id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import disable_created_metrics as _disable_created_metrics
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric, StateSetMetricFamily
from prometheus_client.registry import Collector

from engine.batch import Outcome, Result
from events.commands import CommandType
from events.inbound import EVENT_TYPES, InvalidEvent, ParsedEvent

log = logging.getLogger(__name__)
_disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin per counter: half the lines, nothing an alert reads

INVALID = "invalid"
"""The `type` label of a message that did not parse: its claimed type is input, never a label."""

# ------------------------------------------------------------------ process series: the worker

EVENTS = Counter("fengkong_events", "Inbound events by contract type and outcome.", ["type", "outcome"])
COMMANDS = Counter("fengkong_commands", "Commands the policy decided, by command type.", ["type"])
BATCH_SECONDS = Histogram(
    "fengkong_batch_seconds",
    "Seconds to prepare and commit one batch (one store transaction), retries included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CALENDAR_FALLBACKS = Counter(
    "fengkong_calendar_fallbacks",
    "Decisions that counted business days on weekdays only: the calendar had no schedule for a year they needed.",
)
CONSUMER_LAG = Gauge(
    "fengkong_consumer_lag",
    "Records of an owned partition not yet recorded in the store (the partition's end offset minus the next offset).",
    ["topic", "partition"],
)

# ------------------------------------------------------------------ process series: the relays

RELAY_LAG = Gauge(
    "fengkong_relay_lag",
    "Stored notifications the command relay has not read yet (the store's head minus its recorded position).",
    ["topic"],
)
CLOCK_COPIES = Counter("fengkong_clock_days_copied", "DayClosed records copied into every events partition.")

HELD = Counter("fengkong_locks_held", "Automatic locks this worker's batches held (the emergency brake).")

# ------------------------------------------------------------------ store series (read at scrape time)

PROJECTION_LAG = "fengkong_projection_lag_events"
PROJECTION_LAG_SECONDS = "fengkong_projection_lag_seconds"
STORE_HEAD = "fengkong_store_head"
REVIEWS_OPEN = "fengkong_reviews_open"
REVIEWS_NEAR = "fengkong_reviews_near_deadline"
REVIEWS_BREACHED = "fengkong_reviews_deadline_breached"
HELD_LOCKS = "fengkong_held_locks"
BRAKE_STATE = "fengkong_brake_state"
BRAKE_WINDOW = "fengkong_brake_locks_in_window"
BRAKE_BOUND = "fengkong_brake_bound"
STUCK_LOCKS = "fengkong_stuck_locks"
CALENDAR_COVERED = "fengkong_calendar_year_covered"
CALENDAR_LAST_YEAR = "fengkong_calendar_last_year"
SCORECARD_PSI = "fengkong_scorecard_psi"
SCORECARD_ALERT = "fengkong_scorecard_psi_alert"
SCORECARD_MONITORED = "fengkong_scorecard_monitored_timestamp_seconds"
PSI_ALERT_LEVELS = {"stable": 0, "watch": 1, "act": 2}


def _zero() -> None:
    """Every known label value starts at 0, so a series exists (and an alert on it works) before it moves."""
    for kind in (*EVENT_TYPES, INVALID):
        for outcome in Outcome:
            if kind != INVALID or outcome is Outcome.REJECTED:
                EVENTS.labels(kind, outcome.value)
    for command in CommandType:
        COMMANDS.labels(command.value)


_zero()


def observe_batch(items: Sequence[ParsedEvent | InvalidEvent], results: Iterable[Result], seconds: float) -> None:
    """Count a committed batch's events by type and outcome, its commands by type, and its latency."""
    BATCH_SECONDS.observe(seconds)
    for result in results:
        item = items[result.index]
        kind = item.event.type if isinstance(item, ParsedEvent) else INVALID
        EVENTS.labels(kind, result.outcome.value).inc()
        for command in result.commands:
            COMMANDS.labels(command.type).inc()
        if result.held:
            HELD.inc(result.held)
        if result.warnings:
            CALENDAR_FALLBACKS.inc(len(result.warnings))


def count_refused(item: ParsedEvent | InvalidEvent) -> None:
    """A record refused before the engine saw it (routing, empty value)."""
    EVENTS.labels(item.event.type if isinstance(item, ParsedEvent) else INVALID, Outcome.REJECTED.value).inc()


def set_consumer_lag(topic: str, partition: int, lag: int) -> None:
    CONSUMER_LAG.labels(topic, str(partition)).set(max(0, lag))


def forget_partition(topic: str, partition: int) -> None:
    """A partition no longer ours: its lag is another member's to report."""
    with suppress(KeyError):
        CONSUMER_LAG.remove(topic, str(partition))


# ------------------------------------------------------------------ the store series, at scrape time


@dataclass(frozen=True)
class StoreFigures:
    """What the API reads from the store for one scrape."""

    head: int
    projections: Sequence[tuple[str, int, float | None]]  # (name, lag in events, lag in seconds)
    reviews_open: int
    reviews_near_deadline: int
    reviews_breached: int
    held_locks: int = 0
    brake_tripped: bool = False
    brake_locks_in_window: int = 0
    brake_bound: int | None = None
    stuck_locks: int = 0
    calendar_years: Sequence[tuple[int, bool]] = ()  # (year, the active calendar has its schedule): this and next
    calendar_last_year: int = 0  # the last year the active calendar has a schedule for
    scorecard: dict[str, Any] | None = None  # adapters.store.score_monitor.latest_stability


class StoreCollector(Collector):
    """The store series of one scrape."""

    def __init__(self, figures: StoreFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        yield GaugeMetricFamily(STORE_HEAD, "Notification id of the last event the store recorded.", f.head)
        lag = GaugeMetricFamily(
            PROJECTION_LAG, "Stored events a read model has not applied yet.", labels=["projection"]
        )
        seconds = GaugeMetricFamily(
            PROJECTION_LAG_SECONDS,
            "Age of the oldest stored event a read model has not applied yet (0: caught up).",
            labels=["projection"],
        )
        for name, events, age in f.projections:
            lag.add_metric([name], events)
            if age is not None:
                seconds.add_metric([name], age)
        yield lag
        yield seconds
        yield GaugeMetricFamily(REVIEWS_OPEN, "Unlock reviews waiting for a decision.", f.reviews_open)
        yield GaugeMetricFamily(
            REVIEWS_NEAR,
            "Open reviews whose deadline is within the warning window (FENGKONG_REVIEW_WARNING_DAYS business days).",
            f.reviews_near_deadline,
        )
        yield GaugeMetricFamily(
            REVIEWS_BREACHED, "Open reviews past their business-day deadline (escalated).", f.reviews_breached
        )
        yield GaugeMetricFamily(HELD_LOCKS, "Automatic locks the emergency brake holds for an operator.", f.held_locks)
        yield StateSetMetricFamily(
            BRAKE_STATE,
            "The emergency brake: armed, or tripped (automatic locks held, waiting for an operator).",
            value={"armed": not f.brake_tripped, "tripped": f.brake_tripped},
        )
        yield GaugeMetricFamily(
            BRAKE_WINDOW,
            "Automatic locks emitted in the hour of event time before the latest one the brake judged.",
            f.brake_locks_in_window,
        )
        if f.brake_bound is not None:
            yield GaugeMetricFamily(BRAKE_BOUND, "The bound of the brake's latest verdict.", f.brake_bound)
        yield GaugeMetricFamily(
            STUCK_LOCKS,
            "Accounts locked without an active reason: no unpaid overdue, no repayment plan (from the read models).",
            f.stuck_locks,
        )
        covered = GaugeMetricFamily(
            CALENDAR_COVERED,
            "1 if the active holiday calendar has the year's official schedule, 0 if deadlines there count weekdays.",
            labels=["year"],
        )
        for year, has in f.calendar_years:
            covered.add_metric([str(year)], int(has))
        yield covered
        yield GaugeMetricFamily(
            CALENDAR_LAST_YEAR, "The last year the active holiday calendar has a schedule for.", f.calendar_last_year
        )
        yield from _scorecard_series(f.scorecard)


def _scorecard_series(stability: dict[str, Any] | None) -> Iterator[Metric]:
    """The latest `score monitor` run: PSI of the score and each attribute in its last month, the alert."""
    if stability is None or stability.get("month") is None:
        return
    card = str(stability["scorecard"])
    psi = GaugeMetricFamily(
        SCORECARD_PSI,
        "Population stability index against the training window, last month monitored (0.1 watch, 0.25 act).",
        labels=["scorecard", "subject"],
    )
    subjects = {"score": stability["score"], **stability["attributes"]}
    for subject, figures in subjects.items():
        if figures["psi"] is not None:
            psi.add_metric([card, subject], figures["psi"])
    yield psi
    alert = GaugeMetricFamily(
        SCORECARD_ALERT, "The worst PSI alert of that month: 0 stable, 1 watch, 2 act.", labels=["scorecard"]
    )
    alert.add_metric([card], PSI_ALERT_LEVELS.get(str(stability["alert"]), 0))
    yield alert
    recorded = datetime.fromisoformat(str(stability["recorded_at"])).timestamp()
    yield GaugeMetricFamily(
        SCORECARD_MONITORED, "When `fengkong score monitor` last recorded its report (Unix time).", recorded
    )


class _Process(Collector):
    """This process's own series (the default registry), inside a scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(*collectors: Collector) -> bytes:
    """This process's series and the given ones, in the Prometheus text format."""
    registry = CollectorRegistry()
    registry.register(_Process())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


# ------------------------------------------------------------------ a port of its own (worker, relays)


class MetricsServer:
    """prometheus_client's HTTP server on a thread: `/metrics` of this process's series."""

    def __init__(self, host: str, port: int) -> None:
        self.server: Any
        self.server, self.thread = _start_http_server(port, addr=host)
        self.host = host
        self.port = int(self.server.server_port)
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_metrics(host: str, port: int | None) -> MetricsServer | None:
    """Start the metrics port if one was asked for (None: off)."""
    return None if port is None else MetricsServer(host, port)
