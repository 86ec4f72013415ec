"""The questions analysts ask of the read models, shared by the HTTP API and the CLI.

Each function returns decoded rows (Decimal money, dates, and times in the
account's own time zone: `localize`); `jsonable` turns them into JSON-ready
values (money as decimal strings, times RFC 3339 with their offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.store.tables import ProjectionDatabase, table_name
from events.recorded import DELINQUENCY_BUCKETS, StatusWord
from projections.account_status import ACCOUNT_STATUS
from projections.base import ColumnType, Row, Table
from projections.collection import COLLECTION_QUEUE, QUEUE_ORDER
from projections.credit_history import CREDIT_HISTORY
from projections.decisions import DECISIONS
from projections.delinquency import DELINQUENCY_DAILY, ROLL_RATES
from projections.notices import NOTICE_RATES
from projections.watchlist import WATCHING, WATCHLIST

STATUSES = tuple(word.value for word in StatusWord)
MAX_OFFSET = 1_000_000_000
"""The largest offset a page may start at (the API and CLI refuse more: 422 or a usage error, never a 500)."""
MAX_PAGE = 1000
PORTFOLIO_ZONE = "Asia/Shanghai"
"""The zone of a time that belongs to no known account (the contract's default for AccountOpened)."""


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    limit: int
    offset: int


def _select(
    db: ProjectionDatabase,
    table: Table,
    where: Sequence[str],
    params: Sequence[Any],
    order: str,
    limit: int,
    offset: int,
) -> Page:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    name = table_name(table)
    total = int(db.query(f"SELECT count(*) FROM {name}{clause}", params)[0][0])
    rows = db.query(
        f"SELECT {', '.join(table.column_names)} FROM {name}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return Page(localize(db, [db.decode_row(table, row) for row in rows]), total, limit, offset)


@lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or PORTFOLIO_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(PORTFOLIO_ZONE)


def account_zones(db: ProjectionDatabase, account_ids: Sequence[str]) -> dict[str, str]:
    """Each named account's time zone, from `account_status` (absent: not opened yet)."""
    zones: dict[str, str] = {}
    unique = sorted(set(account_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found = db.query(
            f"SELECT account_id, timezone FROM {table_name(ACCOUNT_STATUS)} WHERE account_id IN ({marks})", chunk
        )
        zones.update((str(account), str(name)) for account, name in found)
    return zones


def localize(db: ProjectionDatabase, rows: list[Row]) -> list[Row]:
    """Every time of each row in its account's zone (PORTFOLIO_ZONE where the row names no known account).

    The tables keep UTC; people read local times, each with its offset, so a
    time is never shown without its zone or beside one in another zone.
    """
    missing = [row["account_id"] for row in rows if "timezone" not in row and "account_id" in row]
    zones = account_zones(db, missing) if missing else {}
    for row in rows:
        local = zone(row.get("timezone") or zones.get(row.get("account_id", "")))
        for name, value in row.items():
            if isinstance(value, datetime):
                row[name] = value.astimezone(local)
    return rows


def _order(db: ProjectionDatabase, table: Table, order: Sequence[tuple[str, str]]) -> str:
    """ORDER BY terms; SQLite keeps money as text, so it sorts by its numeric value."""
    terms = []
    for name, direction in order:
        column = table.column(name)
        term = db.money_sort_term(name) if column.type is ColumnType.MONEY else name
        terms.append(f"{term} {direction.upper()}")
    return ", ".join(terms)


def list_accounts(
    db: ProjectionDatabase,
    status: str | None = None,
    bucket: str | None = None,
    locked: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if bucket is not None:
        where.append("delinquency_bucket = ?")
        params.append(bucket)
    if locked is not None:
        where.append("card_locked = ?")
        params.append(db.encode(ACCOUNT_STATUS.column("card_locked"), locked))
    return _select(db, ACCOUNT_STATUS, where, params, "account_id", limit, offset)


def get_account(db: ProjectionDatabase, account_id: str) -> Row | None:
    found = db.query(db.select_by_key(ACCOUNT_STATUS), [account_id])
    return localize(db, [db.decode_row(ACCOUNT_STATUS, found[0])])[0] if found else None


def account_history(db: ProjectionDatabase, account_id: str, limit: int = 200, offset: int = 0) -> Page:
    return _select(db, CREDIT_HISTORY, ["account_id = ?"], [account_id], "occurred_at, position, seq", limit, offset)


def account_decisions(db: ProjectionDatabase, account_id: str, limit: int = 200, offset: int = 0) -> Page:
    return _select(db, DECISIONS, ["account_id = ?"], [account_id], "position, seq", limit, offset)


QUEUE_SORTS = ("days_past_due", "overdue_outstanding", "broken_plans", "notices_sent", "overdue_since", "account_id")
"""Columns the queue may be sorted by (then by its priority order); rank stays the priority."""


def collection_queue(
    db: ProjectionDatabase,
    limit: int = 50,
    offset: int = 0,
    min_days_past_due: int = 0,
    bucket: str | None = None,
    sort: tuple[str, str] | None = None,
) -> Page:
    """The queue in priority order (or by `sort`: a column of QUEUE_SORTS and asc or desc); rank: the row's place."""
    where: list[str] = []
    params: list[Any] = []
    if min_days_past_due:
        where.append("days_past_due >= ?")
        params.append(min_days_past_due)
    if bucket is not None:
        where.append("delinquency_bucket = ?")
        params.append(bucket)
    order = QUEUE_ORDER if sort is None else (sort, *(term for term in QUEUE_ORDER if term[0] != sort[0]))
    page = _select(db, COLLECTION_QUEUE, where, params, _order(db, COLLECTION_QUEUE, order), limit, offset)
    for rank, row in enumerate(page.rows, start=offset + 1):
        row["rank"] = rank
    return page


def watchlist(db: ProjectionDatabase, ended: bool = False, limit: int = 50, offset: int = 0) -> Page:
    """Accounts on the early-warning watch list, longest watched first; `ended`: the watches that ended too."""
    where, params = ([], []) if ended else (["status = ?"], [WATCHING])
    return _select(db, WATCHLIST, where, params, "since, account_id", limit, offset)


@dataclass(frozen=True)
class EarlyWarning:
    """How early warning fared: accounts ever watched, those whose first watch came before their first overdue
    (with the earliest few), and how many of the accounts never watched went overdue."""

    watched: int
    watched_then_overdue: int
    overdue_never_watched: int
    accounts: int
    first: list[Row]  # account_id, first_watch, reason, first_overdue: the earliest watches that came first


def early_warning(db: ProjectionDatabase, limit: int = 5) -> EarlyWarning:
    decisions, history = table_name(DECISIONS), table_name(CREDIT_HISTORY)
    watches = (
        f"SELECT account_id, min(occurred_at) AS first_watch FROM {decisions} "
        "WHERE rule = 'watch.start' GROUP BY account_id"
    )
    overdue = (
        f"SELECT account_id, min(occurred_at) AS first_overdue FROM {history} "
        "WHERE entry = 'OverdueReported' GROUP BY account_id"
    )
    ahead = (
        f"FROM ({watches}) w JOIN ({overdue}) o ON o.account_id = w.account_id WHERE w.first_watch < o.first_overdue"
    )
    counted = db.query(
        f"SELECT (SELECT count(*) FROM ({watches}) w), (SELECT count(*) {ahead}), "
        f"(SELECT count(*) FROM ({overdue}) o WHERE o.account_id NOT IN (SELECT account_id FROM ({watches}) w)), "
        f"(SELECT count(*) FROM {table_name(ACCOUNT_STATUS)})"
    )[0]
    rows = db.query(
        f"SELECT w.account_id, w.first_watch, o.first_overdue {ahead} ORDER BY w.first_watch, w.account_id LIMIT ?",
        [limit],
    )
    column = DECISIONS.column("occurred_at")
    first = []
    for account_id, first_watch, first_overdue in rows:
        reason = db.query(
            f"SELECT facts FROM {decisions} WHERE rule = 'watch.start' AND account_id = ? ORDER BY position LIMIT 1",
            [account_id],
        )[0][0]
        facts = db.decode(DECISIONS.column("facts"), reason)
        first.append(
            {
                "account_id": account_id,
                "first_watch": db.decode(column, first_watch),
                "reason": facts.get("signal"),
                "first_overdue": db.decode(column, first_overdue),
            }
        )
    watched, ahead_count, unwatched, accounts = (int(value or 0) for value in counted)
    return EarlyWarning(watched, ahead_count, unwatched, accounts, localize(db, first))


def notice_rates(db: ProjectionDatabase) -> list[Row]:
    """Contact, promise and promise-kept rates per notice template and channel."""
    return _select(db, NOTICE_RATES, [], [], "template, channel", 10**9, 0).rows


def _date_range(
    db: ProjectionDatabase, table: Table, start: date | None, end: date | None
) -> tuple[list[str], list[Any]]:
    where, params = [], []
    column = table.column("business_date")
    if start is not None:
        where.append("business_date >= ?")
        params.append(db.encode(column, start))
    if end is not None:
        where.append("business_date <= ?")
        params.append(db.encode(column, end))
    return where, params


def delinquency_daily(db: ProjectionDatabase, start: date | None = None, end: date | None = None) -> list[Row]:
    where, params = _date_range(db, DELINQUENCY_DAILY, start, end)
    page = _select(db, DELINQUENCY_DAILY, where, params, "business_date", 10**9, 0)
    order = {bucket: i for i, bucket in enumerate(DELINQUENCY_BUCKETS)}
    return sorted(page.rows, key=lambda row: (row["business_date"], order[row["bucket"]]))


def latest_business_date(db: ProjectionDatabase) -> date | None:
    value = db.query(f"SELECT max(business_date) FROM {table_name(DELINQUENCY_DAILY)}")[0][0]
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)


def roll_rates(db: ProjectionDatabase, business_date: date | None = None) -> tuple[date | None, list[Row]]:
    """The roll-rate matrix into `business_date` (the latest closed date by default)."""
    day = business_date or latest_business_date(db)
    if day is None:
        return None, []
    where, params = _date_range(db, ROLL_RATES, day, day)
    page = _select(db, ROLL_RATES, where, params, "from_bucket, to_bucket", 10**9, 0)
    order = {bucket: i for i, bucket in enumerate(("new", *DELINQUENCY_BUCKETS))}
    return day, sorted(page.rows, key=lambda row: (order[row["from_bucket"]], order[row["to_bucket"]]))


@dataclass(frozen=True)
class Reviews:
    """Open unlock reviews: how many, how many past their deadline, and those due by `near_until`."""

    open: int
    breached: int
    near: Page  # not breached, deadline on or before near_until, soonest first


REVIEW_COLUMNS = ("account_id", "review_request_id", "review_requested_on", "review_deadline")


def open_reviews(db: ProjectionDatabase, near_until: date | None, limit: int = 50) -> Reviews:
    """Open reviews (the index on review_deadline: an open review always has one); `near_until` None: none near."""
    name = table_name(ACCOUNT_STATUS)
    escalated = db.encode(ACCOUNT_STATUS.column("review_escalated"), True)
    open_count, breached = db.query(
        f"SELECT count(*), count(CASE WHEN review_escalated = ? THEN 1 END) FROM {name} "
        "WHERE review_deadline IS NOT NULL",
        [escalated],
    )[0]
    near = Page([], 0, limit, 0)
    if near_until is not None:
        not_escalated = db.encode(ACCOUNT_STATUS.column("review_escalated"), False)
        until = db.encode(ACCOUNT_STATUS.column("review_deadline"), near_until)
        where = "WHERE review_deadline IS NOT NULL AND review_deadline <= ? AND review_escalated = ?"
        total = int(db.query(f"SELECT count(*) FROM {name} {where}", [until, not_escalated])[0][0])
        columns = [ACCOUNT_STATUS.column(c) for c in REVIEW_COLUMNS]
        rows = db.query(
            f"SELECT {', '.join(REVIEW_COLUMNS)} FROM {name} {where} ORDER BY review_deadline, account_id LIMIT ?",
            [until, not_escalated, limit],
        )
        near = Page([db.decode_row(ACCOUNT_STATUS, row, columns) for row in rows], total, limit, 0)
    return Reviews(int(open_count), int(breached or 0), near)


def jsonable(value: Any) -> Any:
    """JSON form of a row value: money and dates as strings, nested rows recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


def locks_between(db: ProjectionDatabase, start: datetime, end: datetime, rules: Sequence[str]) -> list[Row]:
    """LockCard decisions of `rules` whose causes have event time in [start, end), in the store's order."""
    name = table_name(DECISIONS)
    column = DECISIONS.column("occurred_at")
    marks = ", ".join("?" * len(rules))
    columns = [DECISIONS.column(c) for c in ("account_id", "command_id", "cause_event_id", "occurred_at", "rule")]
    rows = db.query(
        f"SELECT account_id, command_id, cause_event_id, occurred_at, rule FROM {name} "
        f"WHERE command_type = 'LockCard' AND rule IN ({marks}) AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY position, seq",
        [*rules, db.encode(column, start), db.encode(column, end)],
    )
    return [db.decode_row(DECISIONS, row, columns) for row in rows]


def stuck_locks(db: ProjectionDatabase, limit: int = 50) -> Page:
    """Accounts locked without an active reason: no unpaid overdue, no repayment plan running."""
    name = table_name(ACCOUNT_STATUS)
    locked = db.encode(ACCOUNT_STATUS.column("card_locked"), True)
    zero = db.encode(ACCOUNT_STATUS.column("overdue_outstanding"), Decimal("0.00"))
    where = "WHERE card_locked = ? AND overdue_outstanding = ? AND active_plan_id IS NULL"
    total = int(db.query(f"SELECT count(*) FROM {name} {where}", [locked, zero])[0][0])
    columns = [ACCOUNT_STATUS.column(c) for c in ("account_id", "last_event_id", "last_event_at")]
    rows = db.query(
        f"SELECT account_id, last_event_id, last_event_at FROM {name} {where} ORDER BY account_id LIMIT ?",
        [locked, zero, limit],
    )
    return Page([db.decode_row(ACCOUNT_STATUS, row, columns) for row in rows], total, limit, 0)


def open_review_list(db: ProjectionDatabase, limit: int = 100, offset: int = 0) -> Page:
    """Open unlock reviews, soonest deadline first."""
    columns = [*REVIEW_COLUMNS, "review_escalated"]
    table = ACCOUNT_STATUS
    name = table_name(table)
    where = "WHERE review_deadline IS NOT NULL"
    total = int(db.query(f"SELECT count(*) FROM {name} {where}")[0][0])
    rows = db.query(
        f"SELECT {', '.join(columns)} FROM {name} {where} ORDER BY review_deadline, account_id LIMIT ? OFFSET ?",
        [limit, offset],
    )
    return Page([db.decode_row(table, row, [table.column(c) for c in columns]) for row in rows], total, limit, offset)
