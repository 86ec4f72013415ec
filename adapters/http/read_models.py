"""The analysts' routes: the read models, paged and filtered (role analyst).

Read-only: every answer comes from the `rm_` tables, never from the event
streams. Money is a decimal string, times are UTC RFC 3339, dates ISO.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from adapters.access.keys import Role
from adapters.http.auth import require
from adapters.http.dashboard import render_dashboard
from adapters.http.problems import Problem
from adapters.store import queries
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.tables import POSITIONS, ProjectionDatabase
from events.recorded import DELINQUENCY_BUCKETS
from projections.runner import projection_status

Json = dict[str, Any]


class Connections:
    """One database connection per worker thread (sqlite3 and psycopg connections are not shared)."""

    def __init__(self, connect: Callable[[], ProjectionDatabase]) -> None:
        self.connect = connect
        self.local = threading.local()
        self.all: list[ProjectionDatabase] = []
        self.lock = threading.Lock()

    def get(self) -> ProjectionDatabase:
        db: ProjectionDatabase | None = getattr(self.local, "db", None)
        if db is None:
            db = self.connect()
            self.local.db = db
            with self.lock:
                self.all.append(db)
        return db

    def close(self) -> None:
        with self.lock:
            for db in self.all:
                db.close()
            self.all.clear()


def _page(page: queries.Page) -> Json:
    return {"total": page.total, "limit": page.limit, "offset": page.offset, "items": queries.jsonable(page.rows)}


def connection(request: Request) -> ProjectionDatabase:
    """This worker thread's connection to the store's database."""
    db: ProjectionDatabase = request.app.state.connections.get()
    return db


def built(db: Annotated[ProjectionDatabase, Depends(connection)]) -> ProjectionDatabase:
    """The connection, once the read models exist (503 before)."""
    if not db.has_table(POSITIONS):
        raise Problem(503, "no read models in this store yet: run `fengkong projections catch-up`", "not-built")
    return db


Db = Annotated[ProjectionDatabase, Depends(built)]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE, description="page size")]
Offset = Annotated[int, Query(ge=0, description="rows to skip")]

router = APIRouter(dependencies=[require(Role.ANALYST)])


@router.get("/projections", tags=["service"], summary="Each projection's position and lag behind the store")
def projections(request: Request, db: Db) -> list[Json]:
    log = request.app.state.log
    return [queries.jsonable(vars(row)) for row in projection_status(log, SqlProjectionStore.on(db))]


@router.get("/accounts", tags=["accounts"], summary="Accounts, filtered and paged")
def accounts(
    db: Db,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(queries.STATUSES) + ")$")] = None,
    bucket: Annotated[str | None, Query(description="delinquency bucket: " + ", ".join(DELINQUENCY_BUCKETS))] = None,
    locked: Annotated[bool | None, Query(description="card locked (true) or not (false)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Json:
    if bucket is not None and bucket not in DELINQUENCY_BUCKETS:
        raise Problem(422, f"bucket must be one of {', '.join(DELINQUENCY_BUCKETS)}", "invalid-request")
    return _page(queries.list_accounts(db, status, bucket, locked, limit, offset))


def _account_or_404(db: ProjectionDatabase, account_id: str) -> Json:
    row = queries.get_account(db, account_id)
    if row is None:
        raise Problem(404, f"no account {account_id!r} in the read models", "unknown-account")
    return queries.jsonable(row)  # type: ignore[no-any-return]


@router.get("/accounts/{account_id}", tags=["accounts"], summary="One account with its history and decisions")
def account(db: Db, account_id: str, limit: Limit = 200) -> Json:
    row = _account_or_404(db, account_id)
    return {
        "account": row,
        "history": _page(queries.account_history(db, account_id, limit)),
        "decisions": _page(queries.account_decisions(db, account_id, limit)),
    }


@router.get("/accounts/{account_id}/history", tags=["accounts"], summary="Credit history in event-time order")
def history(db: Db, account_id: str, limit: Limit = 200, offset: Offset = 0) -> Json:
    _account_or_404(db, account_id)
    return _page(queries.account_history(db, account_id, limit, offset))


@router.get("/accounts/{account_id}/decisions", tags=["accounts"], summary="Decisions in store order")
def decisions(db: Db, account_id: str, limit: Limit = 200, offset: Offset = 0) -> Json:
    _account_or_404(db, account_id)
    return _page(queries.account_decisions(db, account_id, limit, offset))


@router.get("/collection-queue", tags=["collection"], summary="Overdue accounts, most urgent first")
def collection_queue(
    db: Db,
    limit: Limit = 50,
    offset: Offset = 0,
    min_days_past_due: Annotated[int, Query(ge=0)] = 0,
) -> Json:
    return _page(queries.collection_queue(db, limit, offset, min_days_past_due))


@router.get("/delinquency/daily", tags=["portfolio"], summary="Accounts and balances per bucket per business date")
def delinquency(
    db: Db,
    start: Annotated[date | None, Query(alias="from", description="first business date")] = None,
    end: Annotated[date | None, Query(alias="to", description="last business date")] = None,
) -> list[Json]:
    return queries.jsonable(queries.delinquency_daily(db, start, end))  # type: ignore[no-any-return]


@router.get("/delinquency/roll-rates", tags=["portfolio"], summary="Roll-rate matrix into a business date")
def roll_rates(
    db: Db, day: Annotated[date | None, Query(alias="date", description="default: the latest")] = None
) -> Json:
    closed, rows = queries.roll_rates(db, day)
    if day is not None and not rows:
        raise Problem(404, f"no business date {day} closed", "unknown-date")
    return {"business_date": queries.jsonable(closed), "matrix": queries.jsonable(rows)}


@router.get(
    "/dashboard",
    tags=["portfolio"],
    response_class=HTMLResponse,
    summary="Charts of the portfolio (an analyst key for now; the console replaces it)",
)
def dashboard(db: Db) -> HTMLResponse:
    return HTMLResponse(render_dashboard(db))
