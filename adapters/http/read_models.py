"""The analysts' routes: the read models, paged and filtered (role analyst).

Read-only: every answer comes from the `rm_` tables, never from the event
streams. Money is a decimal string, times are RFC 3339 in the account's time
zone (docs/read-models.md, "Times people read"), dates ISO. Every problem
answer a route may give is in its OpenAPI entry; integer parameters are
bounded (422, never a 500); `status` and `bucket` are enums; account ids
follow the contract's pattern; links from lists to an account's routes tell
a client (and the fuzzer) where ids come from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.access.keys import Role
from adapters.http.auth import require
from adapters.http.pool import ConnectionPool, PoolExhausted
from adapters.http.problems import Problem, account_links, responses
from adapters.privacy.keyring import KeyRings
from adapters.privacy.reveal import Revealer
from adapters.store import queries
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.tables import POSITIONS, ProjectionDatabase
from events.recorded import Bucket, StatusWord
from events.types import ACCOUNT_ID_PATTERN, MAX_DAYS_PAST_DUE
from projections.runner import projection_status

Json = dict[str, Any]


def _page(page: queries.Page) -> Json:
    return {"total": page.total, "limit": page.limit, "offset": page.offset, "items": queries.jsonable(page.rows)}


def shown(request: Request, db: ProjectionDatabase, answer: Any) -> Any:
    """An answer with its sealed personal values opened (or named forgotten), keys read on the request's connection."""
    rings: KeyRings = request.app.state.key_rings
    return Revealer(lambda: rings.on(db)).reveal(answer)


def _answered(error: BaseException) -> bool:
    """An error the API answers itself: the connection that saw it is fine."""
    return isinstance(error, (Problem, StarletteHTTPException, RequestValidationError))


def connection(request: Request) -> Iterator[ProjectionDatabase]:
    """A connection from the API's bounded pool for this request (503 when none is free in time)."""
    pool: ConnectionPool = request.app.state.pool
    try:
        with pool.connection(keep=_answered) as db:
            yield db
    except PoolExhausted as error:  # only the pool raises it, before the request has a connection
        raise Problem(503, str(error), "busy") from None


def built(db: Annotated[ProjectionDatabase, Depends(connection)]) -> ProjectionDatabase:
    """The connection, once the read models exist (503 before)."""
    if not db.has_table(POSITIONS):
        raise Problem(503, "no read models in this store yet: run `fengkong projections catch-up`", "not-built")
    return db


Db = Annotated[ProjectionDatabase, Depends(built)]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE, description="page size")]
Offset = Annotated[int, Query(ge=0, le=queries.MAX_OFFSET, description="rows to skip")]
AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="the account (the contract's account_id)")]


def _iso_date(value: Any) -> Any:
    """Dates in a query only as YYYY-MM-DD (pydantic would also take a number as a Unix time)."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a date must be written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
QueueSort = StrEnum("QueueSort", {name: name for name in queries.QUEUE_SORTS})  # type: ignore[misc]
ACCOUNT_LINKS = account_links()

router = APIRouter(dependencies=[require(Role.ANALYST)])


@router.get(
    "/projections",
    operation_id="projections",
    tags=["service"],
    summary="Each projection's position and lag behind the store",
    responses=responses(),
)
def projections(request: Request, db: Db) -> list[Json]:
    log = request.app.state.log
    return [queries.jsonable(vars(row)) for row in projection_status(log, SqlProjectionStore.on(db))]


@router.get(
    "/accounts",
    operation_id="accounts",
    tags=["accounts"],
    summary="Accounts, filtered and paged",
    responses=responses(links=ACCOUNT_LINKS),
)
def accounts(
    request: Request,
    db: Db,
    status: Annotated[StatusWord | None, Query(description="the account's one-word status")] = None,
    bucket: Annotated[Bucket | None, Query(description="delinquency bucket")] = None,
    locked: Annotated[bool | None, Query(description="card locked (true) or not (false)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Json:
    chosen_status = None if status is None else status.value
    chosen_bucket = None if bucket is None else bucket.value
    page = queries.list_accounts(db, chosen_status, chosen_bucket, locked, limit, offset)
    return shown(request, db, _page(page))  # type: ignore[no-any-return]


def _account_or_404(db: ProjectionDatabase, account_id: str) -> Json:
    row = queries.get_account(db, account_id)
    if row is None:
        raise Problem(404, f"no account {account_id!r} in the read models", "unknown-account")
    return queries.jsonable(row)  # type: ignore[no-any-return]


@router.get(
    "/accounts/{account_id}",
    operation_id="account",
    tags=["accounts"],
    summary="One account with its history and decisions",
    responses=responses(404),
)
def account(request: Request, db: Db, account_id: AccountId, limit: Limit = 200) -> Json:
    row = _account_or_404(db, account_id)
    answer = {
        "account": row,
        "history": _page(queries.account_history(db, account_id, limit)),
        "decisions": _page(queries.account_decisions(db, account_id, limit)),
    }
    return shown(request, db, answer)  # type: ignore[no-any-return]


@router.get(
    "/accounts/{account_id}/history",
    operation_id="history",
    tags=["accounts"],
    summary="Credit history in event-time order",
    responses=responses(404),
)
def history(request: Request, db: Db, account_id: AccountId, limit: Limit = 200, offset: Offset = 0) -> Json:
    _account_or_404(db, account_id)
    return shown(request, db, _page(queries.account_history(db, account_id, limit, offset)))  # type: ignore[no-any-return]


@router.get(
    "/accounts/{account_id}/decisions",
    operation_id="decisions",
    tags=["accounts"],
    summary="Decisions in store order",
    responses=responses(404),
)
def decisions(request: Request, db: Db, account_id: AccountId, limit: Limit = 200, offset: Offset = 0) -> Json:
    _account_or_404(db, account_id)
    return shown(request, db, _page(queries.account_decisions(db, account_id, limit, offset)))  # type: ignore[no-any-return]


@router.get(
    "/collection-queue",
    operation_id="collection_queue",
    tags=["collection"],
    summary="Overdue accounts, most urgent first",
    responses=responses(links=ACCOUNT_LINKS),
)
def collection_queue(
    db: Db,
    limit: Limit = 50,
    offset: Offset = 0,
    min_days_past_due: Annotated[int, Query(ge=0, le=MAX_DAYS_PAST_DUE)] = 0,
    bucket: Annotated[Bucket | None, Query(description="only this delinquency bucket")] = None,
    sort: Annotated[QueueSort | None, Query(description="sort by this column (default: the priority order)")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="direction of `sort`")] = "desc",
) -> Json:
    chosen = None if sort is None else (sort.value, order)
    return _page(
        queries.collection_queue(db, limit, offset, min_days_past_due, None if bucket is None else bucket.value, chosen)
    )


@router.get(
    "/watchlist",
    operation_id="watchlist",
    tags=["collection"],
    summary="The early-warning watch list: accounts with a signal before their due date, reason, since when",
    responses=responses(links=ACCOUNT_LINKS),
)
def watchlist(
    db: Db,
    ended: Annotated[bool, Query(description="also the watches that ended (went overdue, or repaid)")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Json:
    return _page(queries.watchlist(db, ended, limit, offset))


@router.get(
    "/notice-rates",
    operation_id="notice_rates",
    tags=["collection"],
    summary="Contact rate, promise rate and promise-kept rate per notice template and channel",
    responses=responses(),
)
def notice_rates(db: Db) -> list[Json]:
    return queries.jsonable(queries.notice_rates(db))  # type: ignore[no-any-return]


@router.get(
    "/delinquency/daily",
    operation_id="delinquency",
    tags=["portfolio"],
    summary="Accounts and balances per bucket per business date",
    responses=responses(),
)
def delinquency(
    db: Db,
    start: Annotated[IsoDate | None, Query(alias="from", description="first business date")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="last business date")] = None,
) -> list[Json]:
    return queries.jsonable(queries.delinquency_daily(db, start, end))  # type: ignore[no-any-return]


@router.get(
    "/delinquency/roll-rates",
    operation_id="roll_rates",
    tags=["portfolio"],
    summary="Roll-rate matrix into a business date",
    responses=responses(404),
)
def roll_rates(
    db: Db, day: Annotated[IsoDate | None, Query(alias="date", description="default: the latest")] = None
) -> Json:
    closed, rows = queries.roll_rates(db, day)
    if day is not None and not rows:
        raise Problem(404, f"no business date {day} closed", "unknown-date")
    return {"business_date": queries.jsonable(closed), "matrix": queries.jsonable(rows)}
