"""`fengkong status` and `/status`: how far each part has got, and what needs an operator soon.

One snapshot of the store, read without the engine: the store's head, each
read model's lag, the positions recorded per source (Kafka partitions, the
command relay), open unlock reviews near or past their business-day
deadline, the emergency brake, and the latest population stability of the
scorecard (`fengkong score monitor` records it: adapters.store.score_monitor). The same snapshot feeds the store series
of `/metrics` (adapters.monitoring.metrics.StoreFigures).

Sections later issues add go beside these. The brake's section reads its
record in the store (one for every worker): tripped while locks are held
for an operator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from adapters.monitoring.metrics import StoreFigures
from adapters.store import queries
from adapters.store.documents import RecordedDocuments
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.readers import EngineTables, StoredLog
from adapters.store.score_monitor import ScoreMonitorStore, latest_stability
from adapters.store.tables import ProjectionDatabase
from engine.brake import from_micros
from engine.business_days import HolidayCalendar, add_business_days, from_canonical, seed_calendar
from events.documents import CALENDARS
from events.recorded import FACT_TOPIC
from projections.account_status import ACCOUNT_STATUS
from projections.delinquency import DELINQUENCY_DAILY
from projections.runner import ProjectionStatus, projection_status

RELAY_PREFIX = "relay:"
POSITIONS_TABLE = "fengkong_positions"


@dataclass(frozen=True)
class ReviewWindow:
    """Which open reviews count as near their deadline: due within `business_days` of the latest closed date.

    Also the policy's brake window, over which status counts the locks emitted.
    """

    business_days: int
    calendar: HolidayCalendar | None = None  # the store's active calendar (the shipped seed when None)
    brake_minutes: int = 60

    def until(self, latest: date | None) -> date | None:
        if latest is None:
            return None
        return add_business_days(latest, self.business_days, self.calendar)[0] if self.business_days else latest


@dataclass(frozen=True)
class CalendarCoverage:
    """Whether the active holiday calendar has the schedules deadlines need: this year, and next from December."""

    version: str
    last_year: int
    years: tuple[tuple[int, bool], ...]

    @classmethod
    def of(cls, calendar: HolidayCalendar, reference: date) -> CalendarCoverage:
        years = (reference.year, reference.year + 1) if reference.month == 12 else (reference.year,)
        return cls(calendar.version, max(calendar.years, default=0), tuple((y, calendar.covers(y)) for y in years))

    @property
    def warning(self) -> str | None:
        missing = [year for year, covered in self.years if not covered]
        if not missing:
            return None
        return (
            f"calendar {self.version} has no schedule for {', '.join(map(str, missing))}: review deadlines there "
            "count weekdays only; load the official schedule (fengkong calendar load)"
        )


def active_calendar(log: StoredLog) -> HolidayCalendar:
    """The holiday calendar the store records as active (the shipped seed before any is recorded)."""
    document = RecordedDocuments(log.recorder).book(CALENDARS).active_document
    return seed_calendar() if document is None else from_canonical(document.text)


@dataclass(frozen=True)
class Snapshot:
    head: int
    projections: list[ProjectionStatus]
    positions: dict[tuple[str, int], int]
    latest_business_date: date | None
    near_until: date | None
    reviews: queries.Reviews | None  # None until the read models are built
    relays_pending: dict[str, bool]  # relay source -> a recorded fact (maybe with commands) waits after its position
    brake: dict[str, Any]
    stuck: queries.Page | None  # accounts locked without an active reason; None until the read models are built
    calendar: CalendarCoverage

    scorecard: dict[str, Any] | None = None  # the latest `score monitor` run's last month (latest_stability)


def brake_report(tables: EngineTables, window_minutes: int = 60) -> dict[str, Any]:
    """The emergency brake: armed or tripped (locks held for an operator), the window, the bound."""
    state = tables.brake()
    held = tables.holds(limit=1)
    in_window = 0
    if state is not None and state.last_at is not None:
        in_window = tables.emitted_count(state.last_at - window_minutes * 60_000_000, state.last_at)
    return {
        "state": "tripped" if held else "armed",
        "tripped_since": held[0].cause_at.isoformat() if held else None,
        "held": tables.held_count(),
        "locks_in_window": in_window,
        "window_minutes": window_minutes,
        "window_end": None if state is None or state.last_at is None else from_micros(state.last_at).isoformat(),
        "bound": None if state is None else state.last_bound,
        "active_accounts": None if state is None else state.active,
        "holding_since": None
        if state is None or state.tripped_since is None
        else from_micros(state.tripped_since).isoformat(),
        "batches_judged": 0 if state is None else state.version,
    }


def take_snapshot(log: StoredLog, db: ProjectionDatabase, window: ReviewWindow, limit: int = 50) -> Snapshot:
    head = log.head()
    projections = projection_status(log, SqlProjectionStore.on(db))
    positions = EngineTables(db).positions() if db.has_table(POSITIONS_TABLE) else {}
    pending = {
        source: log.pending([FACT_TOPIC], offset)
        for (source, _), offset in positions.items()
        if source.startswith(RELAY_PREFIX)
    }
    calendar = active_calendar(log)
    if window.calendar is None:
        window = replace(window, calendar=calendar)
    reviews, latest, until, stuck = None, None, None, None
    if db.has_table(ACCOUNT_STATUS.stored_name) and db.has_table(DELINQUENCY_DAILY.stored_name):
        latest = queries.latest_business_date(db)
        until = window.until(latest)
        reviews = queries.open_reviews(db, until, limit)
        stuck = queries.stuck_locks(db, limit)
    brake = brake_report(EngineTables(db), window.brake_minutes)
    coverage = CalendarCoverage.of(calendar, latest or datetime.now(UTC).date())
    stability = latest_stability(ScoreMonitorStore(db).latest())
    return Snapshot(head, projections, positions, latest, until, reviews, pending, brake, stuck, coverage, stability)


def figures(snapshot: Snapshot) -> StoreFigures:
    """The store series of a scrape."""
    reviews = snapshot.reviews
    return StoreFigures(
        head=snapshot.head,
        projections=[(p.name, p.lag_events, p.lag_seconds) for p in snapshot.projections],
        reviews_open=reviews.open if reviews else 0,
        reviews_near_deadline=reviews.near.total if reviews else 0,
        reviews_breached=reviews.breached if reviews else 0,
        held_locks=snapshot.brake["held"],
        brake_tripped=snapshot.brake["state"] == "tripped",
        brake_locks_in_window=snapshot.brake["locks_in_window"],
        brake_bound=snapshot.brake["bound"],
        stuck_locks=snapshot.stuck.total if snapshot.stuck else 0,
        calendar_years=snapshot.calendar.years,
        calendar_last_year=snapshot.calendar.last_year,
        scorecard=snapshot.scorecard,
    )


def report(snapshot: Snapshot, window: ReviewWindow) -> dict[str, Any]:
    """The status as JSON-ready values (`fengkong status --json`, `/status`)."""
    sources: dict[str, dict[str, int]] = {}
    relays = []
    for (source, partition), offset in sorted(snapshot.positions.items()):
        if source.startswith(RELAY_PREFIX):
            lag = max(0, snapshot.head - offset + 1) if snapshot.relays_pending.get(source) else 0
            relays.append({"topic": source.removeprefix(RELAY_PREFIX), "next_notification": offset, "lag_events": lag})
        else:
            sources.setdefault(source, {})[str(partition)] = offset
    reviews = snapshot.reviews
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": {"head": snapshot.head},
        "projections": [
            {key: value for key, value in asdict(p).items() if key not in ("head", "tables")}
            for p in snapshot.projections
        ],
        "sources": [{"source": name, "next_offsets": offsets} for name, offsets in sources.items()],
        "relays": relays,
        "reviews": None
        if reviews is None
        else {
            "latest_business_date": queries.jsonable(snapshot.latest_business_date),
            "open": reviews.open,
            "deadline_breached": reviews.breached,
            "near_deadline": {
                "within_business_days": window.business_days,
                "deadline_on_or_before": queries.jsonable(snapshot.near_until),
                "count": reviews.near.total,
                "reviews": queries.jsonable(reviews.near.rows),
            },
        },
        "calendar": {
            "version": snapshot.calendar.version,
            "last_year": snapshot.calendar.last_year,
            "years": [{"year": year, "covered": covered} for year, covered in snapshot.calendar.years],
            "warning": snapshot.calendar.warning,
        },
        "brake": snapshot.brake,
        "stuck_locks": None
        if snapshot.stuck is None
        else {"count": snapshot.stuck.total, "accounts": queries.jsonable(snapshot.stuck.rows)},
        "scorecard": snapshot.scorecard,
    }
