"""The HTTP API (FastAPI), started by `fengkong serve`: read models, status and metrics, behind API keys.

Routers by who may call them: open probes and documentation (out of the
OpenAPI document), the analysts' read models (adapters.http.read_models),
and the service's keyed routes (adapters.http.service). A later router (the
operators' actions, the console's open pages) is one more `include_router`.
The documentation pages load Swagger UI and ReDoc from the package
(fastapi-offline), never from a CDN. Database connections come from one
bounded pool (adapters.http.pool); each request is logged in one line
without personal data. `schemathesis run --checks all` holds the document
to its word (tests/integration/test_api_fuzz.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline

from adapters.access.sessions import Sessions
from adapters.http import console, operators, policies, portfolio, problems, read_models, reports, service, story
from adapters.http.limits import BodyLimit
from adapters.http.pool import SIZE as POOL_SIZE
from adapters.http.pool import ConnectionPool
from adapters.monitoring.status import ReviewWindow
from adapters.operators.service import Operators
from adapters.privacy.keyring import KeyRings
from adapters.store.documents import RecordedDocuments
from adapters.store.keys import KeyStore
from adapters.store.readers import StoredLog
from adapters.store.tables import ProjectionDatabase

DOCS_ASSETS = "/docs-assets"
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", DOCS_ASSETS, *console.PATHS}
)
"""Every route that answers without a key; the route enumeration test holds the app to it."""

DESCRIPTION = """\
Account status, credit history, decisions, collection queue, delinquency and roll rates from the
read models; the service's status and Prometheus metrics; the emergency brake and its held locks,
unlock reviews, and the operators' actions (release or drop held locks, decide reviews, undo the
locks of a window, correct the platform clock), each recorded with the key's holder as its actor.

**Authentication.** Every route of this document needs an API key, sent as
`Authorization: Bearer <key>`. Keys are made with `fengkong keys create --role ROLE --name WHO`
(shown once) and revoked with `fengkong keys revoke NAME|ID`. Roles, each including the ones before it:
`metrics` (scrape `/metrics`), `analyst` (read everything), `operator` (act), `admin` (manage keys,
correct the clock, propose and approve policies: four eyes, the approver is never the author).
An action may carry an `Idempotency-Key` header: a repeated request acts once.
Each operation's security requirement names the role it needs. No key, an unknown key or a revoked
key is answered 401 (with `WWW-Authenticate: Bearer`), a key of too low a role 403.
The risk console (`/console`) signs a person in with a key once and then calls these same routes
with an HttpOnly session cookie; a request that changes something must then carry the session's
CSRF token in `X-CSRF-Token` (403 otherwise).

**Open routes**, outside this document: `/healthz` (the process answers), `/readyz` (the store
answers and the read models are built), `/openapi.json`, and the documentation at `/docs` and
`/redoc` (served from the package, no CDN), and the console's pages, assets and sign-in
(`/console`, `/console/assets/…`, `/console/session`): they carry no data.

Errors are RFC 9457 problem details (`application/problem+json`), each route listing the ones it
may give. Money is a decimal string, times are RFC 3339 in the account's time zone (its
`timezone`, or Asia/Shanghai), dates ISO 8601.
"""
requests_log = logging.getLogger("fengkong.http.requests")


async def _log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """One line per request: method, route template (never the ids in the path, nor the query), status, time."""
    started = time.perf_counter()
    response = await call_next(request)
    path = getattr(request.scope.get("route"), "path", "(no route)")
    requests_log.info(
        "%s %s %d %.1fms", request.method, path, response.status_code, 1000 * (time.perf_counter() - started)
    )
    return response


def create_app(
    connect: Callable[[], ProjectionDatabase],
    open_log: Callable[[], StoredLog],
    review_window: ReviewWindow,
    open_operators: Callable[[], Operators],
    open_documents: Callable[[], RecordedDocuments],
    key_rings: KeyRings,
    pool_size: int = POOL_SIZE,
    session_minutes: int = 480,
) -> FastAPI:
    """The API over the store's database opened by `connect`, with its log for lag (adapters.bootstrap.api).

    `open_operators` builds the operators' engine on the first action.
    """
    pool = ConnectionPool(connect, size=pool_size)
    log = open_log()
    documents = open_documents()
    with pool.connection() as db:
        KeyStore(db).prepare()
        key_rings.open(db)  # the key table exists, and a restored backup has lost its forgotten keys again
    access = operators.OperatorsAccess(open_operators)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()
        access.close()
        log.close()
        documents.close()

    app = FastAPIOffline(
        title="fengkong",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # Swagger UI's default validator is an outside service
    )
    app.state.pool = pool
    app.state.log = log
    app.state.documents = documents
    app.state.review_window = review_window
    app.state.operators = access
    app.state.key_rings = key_rings
    app.state.sessions = Sessions(60.0 * session_minutes)
    problems.install(app)
    app.middleware("http")(_log_request)
    app.add_middleware(BodyLimit)
    app.include_router(service.probes)
    app.include_router(service.keyed)
    app.include_router(read_models.router)
    app.include_router(operators.reading)
    app.include_router(operators.acting)
    app.include_router(policies.router)
    app.include_router(portfolio.router)
    app.include_router(story.router)
    app.include_router(reports.router)
    app.include_router(console.router)
    app.mount(console.ASSETS, console.assets(), name="console-assets")
    return app
