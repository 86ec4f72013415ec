"""The HTTP API (FastAPI), started by `fengkong serve`: read models, status and metrics, behind API keys.

Routers by who may call them: open probes and documentation (out of the
OpenAPI document), the analysts' read models (adapters.http.read_models),
and the service's keyed routes (adapters.http.service). A later router (the
operators' actions, the console's open pages) is one more `include_router`.
The documentation pages load Swagger UI and ReDoc from the package
(fastapi-offline), never from a CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from adapters.http import policies, problems, read_models, service
from adapters.monitoring.status import ReviewWindow
from adapters.store.documents import RecordedDocuments
from adapters.store.keys import KeyStore
from adapters.store.readers import StoredLog
from adapters.store.tables import ProjectionDatabase

DOCS_ASSETS = "/docs-assets"
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", DOCS_ASSETS}
)
"""Every route that answers without a key; the route enumeration test holds the app to it."""

DESCRIPTION = """\
Account status, credit history, decisions, collection queue, delinquency and roll rates from the
read models; the service's status and Prometheus metrics.

**Authentication.** Every route of this document needs an API key, sent as
`Authorization: Bearer <key>`. Keys are made with `fengkong keys create --role ROLE --name WHO`
(shown once) and revoked with `fengkong keys revoke NAME|ID`. Roles, each including the ones before it:
`metrics` (scrape `/metrics`), `analyst` (read everything), `operator` (act), `admin` (manage keys,
propose and approve policies: four eyes, the approver is never the author).
Each operation's security requirement names the role it needs. No key, an unknown key or a revoked
key is answered 401 (with `WWW-Authenticate: Bearer`), a key of too low a role 403.

**Open routes**, outside this document: `/healthz` (the process answers), `/readyz` (the store
answers and the read models are built), `/openapi.json`, and the documentation at `/docs` and
`/redoc` (served from the package, no CDN).

Errors are RFC 9457 problem details (`application/problem+json`). Money is a decimal string,
times are UTC RFC 3339, dates ISO 8601.
"""


def create_app(
    connect: Callable[[], ProjectionDatabase],
    open_log: Callable[[], StoredLog],
    review_window: ReviewWindow,
    open_documents: Callable[[], RecordedDocuments],
) -> FastAPI:
    """The API over the store's database opened by `connect`, with its log for lag (adapters.bootstrap.api)."""
    connections = read_models.Connections(connect)
    log = open_log()
    documents = open_documents()
    KeyStore(connections.get()).prepare()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        connections.close()
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
    app.state.connections = connections
    app.state.log = log
    app.state.documents = documents
    app.state.review_window = review_window
    problems.install(app)
    app.include_router(service.probes)
    app.include_router(service.keyed)
    app.include_router(read_models.router)
    app.include_router(policies.router)
    return app
