"""The analysts' HTTP API over the read models (FastAPI), started by `fengkong serve`.

Read-only: every answer comes from the `rm_` tables, never from the event
streams. Money is a decimal string, times are RFC 3339 in the account's
time zone (docs/read-models.md, "Times"), dates ISO. Errors are RFC 9457
problem details (`application/problem+json`), documented on every route
with their status codes; integer parameters are bounded (422, never a 500);
a method a path does not take is answered 405 with `Allow`. The OpenAPI
document is at /openapi.json, an interactive page at /docs and a chart page
at /dashboard; `schemathesis run --checks all` holds it to its word
(tests/integration/test_api_fuzz.py).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BeforeValidator
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.http.dashboard import render_dashboard
from adapters.http.pool import SIZE as POOL_SIZE
from adapters.http.pool import ConnectionPool, PoolExhausted
from adapters.store import queries
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.readers import StoredLog
from adapters.store.tables import POSITIONS, ProjectionDatabase
from events.recorded import Bucket, StatusWord
from events.types import ACCOUNT_ID_PATTERN, MAX_DAYS_PAST_DUE
from projections.runner import projection_status

PROBLEM = "application/problem+json"
requests_log = logging.getLogger("fengkong.http.requests")
failures_log = logging.getLogger("fengkong.http")
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


_PROBLEM_SCHEMA: Json = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_WHEN = {
    404: "no such account or date in the read models",
    422: "a parameter out of its bounds or not of its type",
    500: "an internal error (its class only, never data)",
    503: "the read models are not built yet, or every database connection is busy",
}


def _responses(*codes: int, links: Json | None = None) -> dict[int | str, Json]:
    """Problem responses for a route's OpenAPI entry: those every route may give, and `codes`.

    `links` (OpenAPI links of the 200 answer) tell a client, and the fuzzer, where ids come from.
    """
    answers: dict[int | str, Json] = {
        code: {"description": _WHEN[code], "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}}
        for code in sorted({422, 500, 503, *codes})
    }
    if links:
        answers[200] = {"links": links}
    return answers


def _account_links(pointer: str) -> Json:
    """Links from an answer holding an account id (at the JSON pointer) to the routes of that account."""
    return {
        name: {"operationId": name, "parameters": {"account_id": f"$response.body#{pointer}"}}
        for name in ("account", "history", "decisions")
    }


def _iso_date(value: Any) -> Any:
    """Dates in a query only as YYYY-MM-DD (pydantic would also take a number as a Unix time)."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("a date must be written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _page(page: queries.Page) -> Json:
    return {"total": page.total, "limit": page.limit, "offset": page.offset, "items": queries.jsonable(page.rows)}


def _answered(error: BaseException) -> bool:
    """An error the API answers itself: the connection that saw it is fine."""
    return isinstance(error, (Problem, StarletteHTTPException, RequestValidationError))


def _database(request: Request) -> Iterator[ProjectionDatabase]:
    """A pooled connection for this request; 503 until the read models exist or when none is free."""
    pool: ConnectionPool = request.app.state.pool
    try:
        with pool.connection(keep=_answered) as db:
            if not db.has_table(POSITIONS):
                raise Problem(503, "no read models in this store yet: run `fengkong projections catch-up`", "not-built")
            yield db
    except PoolExhausted as error:  # only the pool raises it, before the request has a connection
        raise Problem(503, str(error), "busy") from None


Db = Annotated[ProjectionDatabase, Depends(_database)]
Limit = Annotated[int, Query(ge=1, le=queries.MAX_PAGE, description="page size")]
Offset = Annotated[int, Query(ge=0, le=queries.MAX_OFFSET, description="rows to skip")]
AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="the account (contract account_id)")]


def create_app(
    connect: Callable[[], ProjectionDatabase], open_log: Callable[[], StoredLog], pool_size: int = POOL_SIZE
) -> FastAPI:
    """The API over projections' tables opened by `connect`, with the store's log for lag (adapters.bootstrap.api)."""
    pool = ConnectionPool(connect, size=pool_size)
    log = open_log()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()
        log.close()

    app = FastAPI(
        title="fengkong read models",
        version="1",
        description="Account status, credit history, decisions, collection queue, delinquency and roll rates. "
        "Errors are problem details (RFC 9457); times carry the account's time zone.",
        lifespan=lifespan,
    )
    app.state.pool = pool

    @app.middleware("http")
    async def _log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """One line per request: method, route template (never the ids in the path, nor the query), status, time."""
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "(no route)")
        requests_log.info(
            "%s %s %d %.1fms", request.method, path, response.status_code, 1000 * (time.perf_counter() - started)
        )
        return response

    @app.exception_handler(Problem)
    def _on_problem(request: Request, error: Problem) -> JSONResponse:
        return _problem(request, error.status, error.detail, error.kind)

    @app.exception_handler(StarletteHTTPException)
    def _on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        response = _problem(request, error.status_code, error.detail)
        response.headers.update(error.headers or {})  # 405 names the methods the path takes (Allow)
        return response

    @app.exception_handler(RequestValidationError)
    def _on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return _problem(request, 422, detail, "invalid-request", errors=errors)

    @app.exception_handler(Exception)
    def _on_error(request: Request, error: Exception) -> JSONResponse:
        failures_log.error("%s %s: internal error (%s)", request.method, request.url.path, type(error).__name__)
        return _problem(request, 500, f"internal error ({type(error).__name__})", "internal-error")

    @app.get("/health", tags=["service"], operation_id="health", responses=_responses())
    def health() -> Json:
        return {"status": "ok"}

    @app.get(
        "/projections",
        operation_id="projections",
        tags=["service"],
        summary="Each projection's position and lag behind the store",
        responses=_responses(),
    )
    def projections(db: Db) -> list[Json]:
        return [queries.jsonable(vars(row)) for row in projection_status(log, SqlProjectionStore.on(db))]

    @app.get(
        "/accounts",
        operation_id="accounts",
        tags=["accounts"],
        summary="Accounts, filtered and paged",
        responses=_responses(links=_account_links("/items/0/account_id")),
    )
    def accounts(
        db: Db,
        status: Annotated[StatusWord | None, Query(description="the account's one-word status")] = None,
        bucket: Annotated[Bucket | None, Query(description="delinquency bucket")] = None,
        locked: Annotated[bool | None, Query(description="card locked (true) or not (false)")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Json:
        return _page(queries.list_accounts(db, status and status.value, bucket and bucket.value, locked, limit, offset))

    def _account_or_404(db: ProjectionDatabase, account_id: str) -> Json:
        row = queries.get_account(db, account_id)
        if row is None:
            raise Problem(404, f"no account {account_id!r} in the read models", "unknown-account")
        return queries.jsonable(row)  # type: ignore[no-any-return]

    @app.get(
        "/accounts/{account_id}",
        operation_id="account",
        tags=["accounts"],
        summary="One account with its history and decisions",
        responses=_responses(404),
    )
    def account(db: Db, account_id: AccountId, limit: Limit = 200) -> Json:
        row = _account_or_404(db, account_id)
        return {
            "account": row,
            "history": _page(queries.account_history(db, account_id, limit)),
            "decisions": _page(queries.account_decisions(db, account_id, limit)),
        }

    @app.get(
        "/accounts/{account_id}/history",
        operation_id="history",
        tags=["accounts"],
        summary="Credit history in event-time order",
        responses=_responses(404),
    )
    def history(db: Db, account_id: AccountId, limit: Limit = 200, offset: Offset = 0) -> Json:
        _account_or_404(db, account_id)
        return _page(queries.account_history(db, account_id, limit, offset))

    @app.get(
        "/accounts/{account_id}/decisions",
        operation_id="decisions",
        tags=["accounts"],
        summary="Decisions in store order",
        responses=_responses(404),
    )
    def decisions(db: Db, account_id: AccountId, limit: Limit = 200, offset: Offset = 0) -> Json:
        _account_or_404(db, account_id)
        return _page(queries.account_decisions(db, account_id, limit, offset))

    @app.get(
        "/collection-queue",
        operation_id="collection_queue",
        tags=["collection"],
        summary="Overdue accounts, most urgent first",
        responses=_responses(links=_account_links("/items/0/account_id")),
    )
    def collection_queue(
        db: Db,
        limit: Limit = 50,
        offset: Offset = 0,
        min_days_past_due: Annotated[int, Query(ge=0, le=MAX_DAYS_PAST_DUE)] = 0,
    ) -> Json:
        return _page(queries.collection_queue(db, limit, offset, min_days_past_due))

    @app.get(
        "/delinquency/daily",
        operation_id="delinquency",
        tags=["portfolio"],
        summary="Accounts and balances per bucket per business date",
        responses=_responses(),
    )
    def delinquency(
        db: Db,
        start: Annotated[IsoDate | None, Query(alias="from", description="first business date")] = None,
        end: Annotated[IsoDate | None, Query(alias="to", description="last business date")] = None,
    ) -> list[Json]:
        return queries.jsonable(queries.delinquency_daily(db, start, end))  # type: ignore[no-any-return]

    @app.get(
        "/delinquency/roll-rates",
        operation_id="roll_rates",
        tags=["portfolio"],
        summary="Roll-rate matrix into a business date",
        responses=_responses(404),
    )
    def roll_rates(
        db: Db, day: Annotated[IsoDate | None, Query(alias="date", description="default: the latest")] = None
    ) -> Json:
        closed, rows = queries.roll_rates(db, day)
        if day is not None and not rows:
            raise Problem(404, f"no business date {day} closed", "unknown-date")
        return {"business_date": queries.jsonable(closed), "matrix": queries.jsonable(rows)}

    @app.get(
        "/dashboard",
        operation_id="dashboard",
        tags=["portfolio"],
        response_class=HTMLResponse,
        summary="Charts of the portfolio",
        responses=_responses(),
    )
    def dashboard(db: Db) -> HTMLResponse:
        return HTMLResponse(render_dashboard(db))

    return app
