"""`fengkong status` and `/status`: how far each part has got, and what needs an operator soon.

One snapshot of the store, read without the engine: the store's head, each
read model's lag, the positions recorded per source (Kafka partitions, the
command relay), open unlock reviews near or past their business-day
deadline, the emergency brake, and the latest population stability of the
scorecard (`fengkong score monitor` records it: adapters.store.score_monitor). The same snapshot feeds the store series
of `/metrics` (adapters.monitoring.metrics.StoreFigures).

Sections later issues add go beside these; the brake's section is a
placeholder until the brake lands (issue 12 part B).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from adapters.monitoring.metrics import StoreFigures
from adapters.store import queries
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.readers import EngineTables, StoredLog
from adapters.store.score_monitor import ScoreMonitorStore, latest_stability
from adapters.store.tables import ProjectionDatabase
from engine.business_days import add_business_days
from events.recorded import FACT_TOPIC
from projections.account_status import ACCOUNT_STATUS
from projections.delinquency import DELINQUENCY_DAILY
from projections.runner import ProjectionStatus, projection_status

RELAY_PREFIX = "relay:"
POSITIONS_TABLE = "fengkong_positions"
BRAKE_NOT_IMPLEMENTED: dict[str, Any] = {
    "state": "not implemented",
    "detail": "the emergency brake (contract rule 8) is not built yet: every automatic lock is emitted",
}


@dataclass(frozen=True)
class ReviewWindow:
    """Which open reviews count as near their deadline: due within `business_days` of the latest closed date."""

    business_days: int
    calendar: str = "CN"

    def until(self, latest: date | None) -> date | None:
        if latest is None:
            return None
        return add_business_days(latest, self.business_days, self.calendar)[0] if self.business_days else latest


@dataclass(frozen=True)
class Snapshot:
    head: int
    projections: list[ProjectionStatus]
    positions: dict[tuple[str, int], int]
    latest_business_date: date | None
    near_until: date | None
    reviews: queries.Reviews | None  # None until the read models are built
    relays_pending: dict[str, bool]  # relay source -> a recorded fact (maybe with commands) waits after its position
    scorecard: dict[str, Any] | None = None  # the latest `score monitor` run's last month (latest_stability)


def take_snapshot(log: StoredLog, db: ProjectionDatabase, window: ReviewWindow, limit: int = 50) -> Snapshot:
    head = log.head()
    projections = projection_status(log, SqlProjectionStore.on(db))
    positions = EngineTables(db).positions() if db.has_table(POSITIONS_TABLE) else {}
    pending = {
        source: log.pending([FACT_TOPIC], offset)
        for (source, _), offset in positions.items()
        if source.startswith(RELAY_PREFIX)
    }
    reviews, latest, until = None, None, None
    if db.has_table(ACCOUNT_STATUS.stored_name) and db.has_table(DELINQUENCY_DAILY.stored_name):
        latest = queries.latest_business_date(db)
        until = window.until(latest)
        reviews = queries.open_reviews(db, until, limit)
    stability = latest_stability(ScoreMonitorStore(db).latest())
    return Snapshot(head, projections, positions, latest, until, reviews, pending, stability)


def figures(snapshot: Snapshot) -> StoreFigures:
    """The store series of a scrape."""
    reviews = snapshot.reviews
    return StoreFigures(
        head=snapshot.head,
        projections=[(p.name, p.lag_events, p.lag_seconds) for p in snapshot.projections],
        reviews_open=reviews.open if reviews else 0,
        reviews_near_deadline=reviews.near.total if reviews else 0,
        reviews_breached=reviews.breached if reviews else 0,
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
        "brake": dict(BRAKE_NOT_IMPLEMENTED),
        "scorecard": snapshot.scorecard,
    }
