"""The analysts' portfolio routes over intervals (role analyst): roll rates between two closes, vintages, locks.

The daily roll-rate matrix (`/delinquency/roll-rates`) moves between two
consecutive closes, so nearly every account stays; credit risk reads roll
rates month on month. These routes answer from `rm_bucket_changes`
(adapters.store.portfolio) and the timelines, read-only, like the others.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from adapters.access.keys import Role
from adapters.http.auth import require
from adapters.http.problems import Problem, responses
from adapters.http.read_models import Db, IsoDate
from adapters.store import portfolio
from adapters.store.queries import PORTFOLIO_ZONE

Json = dict[str, Any]

router = APIRouter(dependencies=[require(Role.ANALYST)], tags=["portfolio"])


@router.get(
    "/delinquency/roll-rates/interval",
    operation_id="roll_rates_interval",
    summary="Roll-rate matrix between two closes (default: the latest and the close 30 days before), cure rate",
    description=(
        "Each account's bucket at the close on or before `from` against its bucket at the close on or before "
        "`to`. `from` defaults to 30 days before `to` (month on month); `to` to the latest close. "
        "Accounts opened in between come `from` the bucket `new` (no rate). The cure rate is the share of "
        "the accounts delinquent at the first close that are current at the second."
    ),
    responses=responses(404),
)
def roll_rates_interval(
    db: Db,
    start: Annotated[IsoDate | None, Query(alias="from", description="the first close (on or before)")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="the second close (on or before)")] = None,
) -> Json:
    interval = portfolio.roll_rates_between(db, start, end)
    if interval is None:
        raise Problem(404, "no business date closed on or before the interval's end", "unknown-date")
    return {
        "from_date": None if interval.start is None else interval.start.isoformat(),
        "to_date": interval.end.isoformat(),
        "matrix": interval.matrix,
        "cure": {"delinquent": interval.delinquent, "cured": interval.cured, "rate": interval.cure_rate},
    }


@router.get(
    "/delinquency/vintages",
    operation_id="vintages",
    summary="Vintage curves: share 30+ days past due by months on book, per opening month",
    description=(
        "Accounts are grouped by the month they opened (in their own time zone); each point is the share of "
        "the group's accounts that the last close of a month counted (`accounts`) in a bucket past 30 days, "
        "by months on book."
    ),
    responses=responses(),
)
def vintages(db: Db) -> Json:
    return portfolio.vintages(db)


@router.get(
    "/portfolio/locks-daily",
    operation_id="locks_daily",
    summary="Cards locked, unlocked and locks held by the brake per day (days in the portfolio's zone)",
    responses=responses(),
)
def locks_daily(
    db: Db,
    start: Annotated[IsoDate | None, Query(alias="from", description="first day")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="last day")] = None,
) -> Json:
    return {"timezone": PORTFOLIO_ZONE, "days": portfolio.locks_per_day(db, start, end)}
