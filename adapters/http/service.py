"""The service's own routes: open probes, and behind a key who-am-I, status and Prometheus metrics.

`/healthz` (the process answers) and `/readyz` (the store answers and every
read model is built at its current version) are open, for load balancers
and orchestrators, and stay out of the OpenAPI document. `/metrics` needs
the `metrics` role (Prometheus sends the key as a bearer token) or above.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from adapters.access.keys import Principal, Role
from adapters.http.auth import require
from adapters.http.problems import Problem, responses
from adapters.http.read_models import connection
from adapters.monitoring import status as status_report
from adapters.monitoring.metrics import StoreCollector, exposition
from adapters.monitoring.status import ReviewWindow
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.tables import ProjectionDatabase
from projections.registry import PROJECTIONS

Json = dict[str, Any]
Connection = Annotated[ProjectionDatabase, Depends(connection)]

probes = APIRouter(include_in_schema=False)
keyed = APIRouter(tags=["service"])


@probes.get("/healthz")
def healthz() -> Json:
    return {"status": "ok"}


@probes.get("/readyz")
def readyz(request: Request, db: Connection) -> Json:
    try:
        head = request.app.state.log.head()
        stored = SqlProjectionStore.on(db).stored_positions()
    except Exception as error:  # the store does not answer: not ready, whatever the reason
        raise Problem(503, f"the store does not answer ({type(error).__name__})", "not-ready") from None
    missing = [p.name for p in PROJECTIONS if p.name not in stored or stored[p.name].version != p.version]
    if missing:
        raise Problem(503, f"read models not built: {', '.join(missing)}", "not-ready")
    return {"status": "ready", "head": head}


@keyed.get("/me", operation_id="me", summary="The key's holder and role", responses=responses())
def me(principal: Annotated[Principal, require(Role.METRICS)]) -> Json:
    return {"key_id": principal.key_id, "name": principal.name, "role": principal.role.value}


@keyed.get(
    "/status",
    operation_id="status",
    responses=responses(),
    summary="Lag of each read model, recorded positions, reviews near their deadline, the brake",
    dependencies=[require(Role.ANALYST)],
)
def status(
    request: Request,
    db: Connection,
    within: Annotated[
        int | None, Query(ge=0, le=60, description="business days before a deadline that count as near")
    ] = None,
    limit: Annotated[int, Query(ge=0, le=1000, description="near reviews listed at most")] = 50,
) -> Json:
    window: ReviewWindow = request.app.state.review_window
    if within is not None:
        window = replace(window, business_days=within)
    snapshot = status_report.take_snapshot(request.app.state.log, db, window, limit)
    return status_report.report(snapshot, window)


@keyed.get(
    "/metrics",
    summary="Prometheus metrics (text format)",
    response_class=Response,
    operation_id="metrics",
    responses={
        **responses(),
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "the Prometheus text exposition format"},
    },
    dependencies=[require(Role.METRICS)],
)
def metrics(request: Request, db: Connection) -> Response:
    snapshot = status_report.take_snapshot(request.app.state.log, db, request.app.state.review_window, limit=0)
    body = exposition(StoreCollector(status_report.figures(snapshot)))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
