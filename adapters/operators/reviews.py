"""Open unlock reviews with their business-day deadline and the business days left (CLI and API)."""

from __future__ import annotations

from typing import Any

from adapters.bootstrap import open_log, open_tables
from adapters.monitoring.status import active_calendar
from adapters.settings import Settings
from adapters.store import queries
from adapters.store.tables import ProjectionDatabase
from engine.business_days import HolidayCalendar, business_days_between
from projections.account_status import ACCOUNT_STATUS


def open_reviews(
    db: ProjectionDatabase, calendar: HolidayCalendar | None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Each open review: applied on, deadline, and business days left after the latest closed date (0: due).

    `calendar` is the store's active one (the shipped seed when None).
    """
    if not db.has_table(ACCOUNT_STATUS.stored_name):
        return []
    latest = queries.latest_business_date(db)
    rows = []
    for row in queries.open_review_list(db, limit, offset).rows:
        deadline = row["review_deadline"]
        left = None if latest is None else business_days_between(latest, deadline, calendar)
        rows.append(
            {
                "account_id": row["account_id"],
                "request_id": row["review_request_id"],
                "requested_on": queries.jsonable(row["review_requested_on"]),
                "deadline": queries.jsonable(deadline),
                "latest_business_date": queries.jsonable(latest),
                "business_days_left": left,
                "escalated": bool(row["review_escalated"]),
            }
        )
    return rows


def review_rows(settings: Settings, limit: int = 100) -> list[dict[str, Any]]:
    db, log = open_tables(settings), open_log(settings)
    try:
        return open_reviews(db, active_calendar(log), limit)
    finally:
        db.close()
        log.close()
