"""The analysts' HTTP API over the read models (FastAPI), started by `fengkong serve`.

Read-only: every answer comes from the `rm_` tables, never from the event
streams. Money is a decimal string, times are UTC RFC 3339, dates ISO.
Errors are RFC 9457 problem details (`application/problem+json`). The
OpenAPI document is at /openapi.json, an interactive page at /docs and a
chart page at /dashboard.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.http.dashboard import render_dashboard
from adapters.store import queries
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.readers import StoredLog
from adapters.store.tables import POSITIONS, ProjectionDatabase
from events.recorded import DELINQUENCY_BUCKETS
from projections.runner import projection_status

PROBLEM = "application/problem+json"
Json = dict[str, Any]


class Problem(Exception):
    """An error answered as problem details."""

    def __init__(self, status: int, detail: str, kind: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind


def _problem(request: Request, status: int, detail: Any, kind: str | None = None, **extra: Any) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body = {
        "type": f"/problems/{kind or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class _Connections:
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


def _database(request: Request) -> ProjectionDatabase:
    """This worker thread's connection; 503 until the read models exist."""
    db: ProjectionDatabase = request.app.state.connections.get()
    if not db.has_table(POSITIONS):
        raise Problem(503, "no read models in this store yet: run `fengkong projections catch-up`", "not-built")
    return db


Db = Annotated[ProjectionDatabase, Depends(_database)]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE, description="page size")]
Offset = Annotated[int, Query(ge=0, description="rows to skip")]


def create_app(connect: Callable[[], ProjectionDatabase], open_log: Callable[[], StoredLog]) -> FastAPI:
    """The API over projections' tables opened by `connect`, with the store's log for lag (adapters.bootstrap.api)."""
    connections = _Connections(connect)
    log = open_log()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        connections.close()
        log.close()

    app = FastAPI(
        title="fengkong read models",
        version="1",
        description="Account status, credit history, decisions, collection queue, delinquency and roll rates.",
        lifespan=lifespan,
    )
    app.state.connections = connections

    @app.exception_handler(Problem)
    def _on_problem(request: Request, error: Problem) -> JSONResponse:
        return _problem(request, error.status, error.detail, error.kind)

    @app.exception_handler(StarletteHTTPException)
    def _on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _problem(request, error.status_code, error.detail)

    @app.exception_handler(RequestValidationError)
    def _on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return _problem(request, 422, detail, "invalid-request", errors=errors)

    @app.exception_handler(Exception)
    def _on_error(request: Request, error: Exception) -> JSONResponse:
        return _problem(request, 500, f"internal error ({type(error).__name__})", "internal-error")

    @app.get("/health", tags=["service"])
    def health() -> Json:
        return {"status": "ok"}

    @app.get("/projections", tags=["service"], summary="Each projection's position and lag behind the store")
    def projections(db: Db) -> list[Json]:
        return [queries.jsonable(vars(row)) for row in projection_status(log, SqlProjectionStore.on(db))]

    @app.get("/accounts", tags=["accounts"], summary="Accounts, filtered and paged")
    def accounts(
        db: Db,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(queries.STATUSES) + ")$")] = None,
        bucket: Annotated[
            str | None, Query(description="delinquency bucket: " + ", ".join(DELINQUENCY_BUCKETS))
        ] = None,
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

    @app.get("/accounts/{account_id}", tags=["accounts"], summary="One account with its history and decisions")
    def account(db: Db, account_id: str, limit: Limit = 200) -> Json:
        row = _account_or_404(db, account_id)
        return {
            "account": row,
            "history": _page(queries.account_history(db, account_id, limit)),
            "decisions": _page(queries.account_decisions(db, account_id, limit)),
        }

    @app.get("/accounts/{account_id}/history", tags=["accounts"], summary="Credit history in event-time order")
    def history(db: Db, account_id: str, limit: Limit = 200, offset: Offset = 0) -> Json:
        _account_or_404(db, account_id)
        return _page(queries.account_history(db, account_id, limit, offset))

    @app.get("/accounts/{account_id}/decisions", tags=["accounts"], summary="Decisions in store order")
    def decisions(db: Db, account_id: str, limit: Limit = 200, offset: Offset = 0) -> Json:
        _account_or_404(db, account_id)
        return _page(queries.account_decisions(db, account_id, limit, offset))

    @app.get("/collection-queue", tags=["collection"], summary="Overdue accounts, most urgent first")
    def collection_queue(
        db: Db,
        limit: Limit = 50,
        offset: Offset = 0,
        min_days_past_due: Annotated[int, Query(ge=0)] = 0,
    ) -> Json:
        return _page(queries.collection_queue(db, limit, offset, min_days_past_due))

    @app.get("/delinquency/daily", tags=["portfolio"], summary="Accounts and balances per bucket per business date")
    def delinquency(
        db: Db,
        start: Annotated[date | None, Query(alias="from", description="first business date")] = None,
        end: Annotated[date | None, Query(alias="to", description="last business date")] = None,
    ) -> list[Json]:
        return queries.jsonable(queries.delinquency_daily(db, start, end))  # type: ignore[no-any-return]

    @app.get("/delinquency/roll-rates", tags=["portfolio"], summary="Roll-rate matrix into a business date")
    def roll_rates(
        db: Db, day: Annotated[date | None, Query(alias="date", description="default: the latest")] = None
    ) -> Json:
        closed, rows = queries.roll_rates(db, day)
        if day is not None and not rows:
            raise Problem(404, f"no business date {day} closed", "unknown-date")
        return {"business_date": queries.jsonable(closed), "matrix": queries.jsonable(rows)}

    @app.get("/dashboard", tags=["portfolio"], response_class=HTMLResponse, summary="Charts of the portfolio")
    def dashboard(db: Db) -> HTMLResponse:
        return HTMLResponse(render_dashboard(db))

    return app
