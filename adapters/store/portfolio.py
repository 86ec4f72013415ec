"""Portfolio questions over intervals: roll rates between two closes, cure rate, vintages, locks per day.

Credit risk reports roll rates month on month: the bucket of every account at
one close against its bucket at a close about 30 days later. Each account's
bucket at past closes comes from `rm_bucket_changes` (projections.bucket_history),
which agrees with `rm_delinquency_daily` at every close. Days that belong to
the portfolio (locks per day) are dates in PORTFOLIO_ZONE; business dates are
the platform's calendar dates and carry no zone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from adapters.store.queries import PORTFOLIO_ZONE, zone
from adapters.store.tables import ProjectionDatabase, table_name
from events.recorded import DELINQUENCY_BUCKETS
from events.rules import AUTOMATIC_LOCKS
from projections.account_status import ACCOUNT_STATUS
from projections.bucket_history import BUCKET_CHANGES, NEW
from projections.credit_history import CREDIT_HISTORY
from projections.decisions import DECISIONS
from projections.delinquency import DELINQUENCY_DAILY

DEFAULT_INTERVAL_DAYS = 30
THIRTY_PLUS = frozenset(DELINQUENCY_BUCKETS[2:])
"""31-60 and later buckets: 30+ days past due, the vintage curves' measure."""
ORDER = {bucket: i for i, bucket in enumerate((NEW, *DELINQUENCY_BUCKETS))}


def closed_dates(db: ProjectionDatabase) -> list[date]:
    """Every closed business date, ascending."""
    column = DELINQUENCY_DAILY.column("business_date")
    rows = db.query(f"SELECT DISTINCT business_date FROM {table_name(DELINQUENCY_DAILY)} ORDER BY business_date")
    return [db.decode(column, value) for (value,) in rows]


def close_on_or_before(dates: list[date], day: date) -> date | None:
    earlier = [closed for closed in dates if closed <= day]
    return earlier[-1] if earlier else None


def _changes(db: ProjectionDatabase, until: date) -> list[tuple[str, date, str]]:
    """(account, business date, bucket) of every change up to `until`, in date order."""
    table = table_name(BUCKET_CHANGES)
    column = BUCKET_CHANGES.column("business_date")
    rows = db.query(
        f"SELECT account_id, business_date, bucket FROM {table} WHERE business_date <= ? "
        "ORDER BY business_date, account_id",
        [db.encode(column, until)],
    )
    return [(str(account), db.decode(column, day), str(bucket)) for account, day, bucket in rows]


def buckets_at(db: ProjectionDatabase, days: list[date]) -> dict[date, dict[str, str]]:
    """Each account's bucket at each of `days` (accounts not open yet are absent)."""
    result: dict[date, dict[str, str]] = {}
    if not days:
        return result
    changes = _changes(db, max(days))
    state: dict[str, str] = {}
    i = 0
    for day in sorted(days):
        while i < len(changes) and changes[i][1] <= day:
            state[changes[i][0]] = changes[i][2]
            i += 1
        result[day] = dict(state)
    return result


@dataclass(frozen=True)
class Interval:
    """Roll rates from the close `start` (None: before the first) to the close `end`."""

    start: date | None
    end: date
    matrix: list[dict[str, Any]]
    delinquent: int  # accounts delinquent at start
    cured: int  # of those, current at end

    @property
    def cure_rate(self) -> float | None:
        return self.cured / self.delinquent if self.delinquent else None


def roll_rates_between(db: ProjectionDatabase, start: date | None, end: date | None) -> Interval | None:
    """The matrix between the closes on or before `start` and `end` (defaults: latest, 30 days before it)."""
    dates = closed_dates(db)
    last = close_on_or_before(dates, end) if end is not None else (dates[-1] if dates else None)
    if last is None:
        return None
    first = close_on_or_before(dates, start if start is not None else last - timedelta(DEFAULT_INTERVAL_DAYS))
    if first is not None and first > last:
        first = last
    at = buckets_at(db, [last] if first is None else [first, last])
    before = {} if first is None else at[first]
    after = at[last]
    moves = Counter((before.get(account, NEW), bucket) for account, bucket in after.items())
    sizes = Counter(before.values())
    sizes[NEW] = sum(count for (source, _), count in moves.items() if source == NEW)
    matrix = [
        {
            "from_bucket": source,
            "to_bucket": target,
            "accounts": count,
            "from_accounts": sizes[source],
            "rate": None if source == NEW or not sizes[source] else count / sizes[source],
        }
        for (source, target), count in sorted(moves.items(), key=lambda item: (ORDER[item[0][0]], ORDER[item[0][1]]))
    ]
    delinquent = [account for account, bucket in before.items() if bucket != "current"]
    cured = sum(1 for account in delinquent if after.get(account) == "current")
    return Interval(first, last, matrix, len(delinquent), cured)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def vintages(db: ProjectionDatabase) -> dict[str, Any]:
    """Share of each opening month's accounts 30+ days past due at each month's last close, by months on book.

    A point counts the cohort's accounts that close saw (`accounts`): one opened after it, or whose facts
    arrived after it, is not in its denominator.
    """
    dates = closed_dates(db)
    month_ends = sorted({_month_index(day): day for day in dates}.values())
    column = ACCOUNT_STATUS.column("opened_at")
    opened: dict[str, date] = {}
    for account, at, name in db.query(f"SELECT account_id, opened_at, timezone FROM {table_name(ACCOUNT_STATUS)}"):
        opened[str(account)] = db.decode(column, at).astimezone(zone(name)).date()
    cohorts: dict[int, set[str]] = defaultdict(set)
    for account, day in opened.items():
        cohorts[_month_index(day)].add(account)
    at = buckets_at(db, month_ends)
    curves = []
    for month in sorted(cohorts):
        members = cohorts[month]
        points = []
        for day in month_ends:
            counted = [at[day][account] for account in members if account in at[day]]  # open at that close
            if _month_index(day) >= month and counted:
                points.append(
                    {
                        "months_on_book": _month_index(day) - month,
                        "business_date": day.isoformat(),
                        "accounts": len(counted),
                        "share": sum(1 for bucket in counted if bucket in THIRTY_PLUS) / len(counted),
                    }
                )
        curves.append({"opened": f"{month // 12:04d}-{month % 12 + 1:02d}", "accounts": len(members), "points": points})
    return {"measure": "30+ days past due", "cohorts": curves}


def _held(db: ProjectionDatabase) -> list[tuple[datetime, str]]:
    """(cause time, "held") of every lock the brake held: a lock rule's decision with no command, `held` set."""
    at_column, changes_column = DECISIONS.column("occurred_at"), DECISIONS.column("changes")
    rules = sorted(AUTOMATIC_LOCKS)
    rows = db.query(
        f"SELECT occurred_at, changes FROM {table_name(DECISIONS)} "
        f"WHERE command_type IS NULL AND rule IN ({', '.join('?' * len(rules))})",
        rules,
    )
    decoded = [(db.decode(at_column, at), db.decode(changes_column, changes)) for at, changes in rows]
    return [(at, "held") for at, changes in decoded if isinstance(changes, dict) and changes.get("held")]


def locks_per_day(db: ProjectionDatabase, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """Cards locked, unlocked and locks held by the brake per calendar day in PORTFOLIO_ZONE (zeros included).

    A held lock counts on the day of its cause; released, it counts again among the locks of its release.
    """
    column = CREDIT_HISTORY.column("occurred_at")
    local = zone(PORTFOLIO_ZONE)
    where, params = ["entry IN ('LockCard', 'UnlockCard')"], []
    if start is not None:  # the range's days in the portfolio's zone, as UTC bounds of the stored times
        where.append("occurred_at >= ?")
        params.append(db.encode(column, datetime.combine(start, time(), local)))
    if end is not None:
        where.append("occurred_at < ?")
        params.append(db.encode(column, datetime.combine(end + timedelta(1), time(), local)))
    rows = db.query(f"SELECT occurred_at, entry FROM {table_name(CREDIT_HISTORY)} WHERE {' AND '.join(where)}", params)
    events = [(db.decode(column, at), str(entry)) for at, entry in rows] + _held(db)
    counts: Counter[tuple[date, str]] = Counter((at.astimezone(local).date(), kind) for at, kind in events)
    dates = closed_dates(db)
    days = [day for day, _ in counts] + dates
    if not days:
        return []
    first = max(start, min(days)) if start else min(days)  # never a loop over days the data does not reach
    last = min(end, max(days)) if end else max(days)
    result = []
    day = first
    while day <= last:
        result.append(
            {
                "date": day.isoformat(),
                "locks": counts[(day, "LockCard")],
                "unlocks": counts[(day, "UnlockCard")],
                "held": counts[(day, "held")],
            }
        )
        day += timedelta(1)
    return result
