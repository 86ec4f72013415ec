"""Shadow runs and their reports over HTTP (role analyst), for the console's reports.

`fengkong shadow report` compares, over a shadow period, what the active
policy decided with what a candidate would have decided (the same figures
as the what-if, engine.whatif_summary). It reads only the shadow read model,
so it is cheap enough to answer on request. The what-if over recorded
history replays every account (`fengkong audit whatif`, seconds to minutes):
its figures are attached to a proposal (`fengkong policy report`) and read
with the proposal from `/policies`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from adapters.access.keys import Role
from adapters.http.auth import require
from adapters.http.problems import Problem, responses
from adapters.http.read_models import Db
from adapters.shadow.report import shadow_report
from adapters.shadow.tables import ShadowTables

Json = dict[str, Any]
Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="the candidate's version")]

router = APIRouter(dependencies=[require(Role.ANALYST)], tags=["policies"])


@router.get(
    "/shadow/runs",
    operation_id="shadow_runs",
    summary="The shadow runs on this store: candidate, digest, period (store positions), facts seen",
    responses=responses(
        links={
            "shadow_report": {"operationId": "shadow_report", "parameters": {"version": "$response.body#/0/version"}}
        }
    ),
)
def runs(db: Db) -> list[Json]:
    return [{k: v for k, v in vars(run).items() if k != "text"} for run in ShadowTables(db).runs()]


@router.get(
    "/shadow/runs/{version}/report",
    operation_id="shadow_report",
    summary="The what-if comparison over a shadow run's period (as `fengkong shadow report --json`)",
    responses=responses(404),
)
def report(db: Db, version: Version) -> Json:
    tables = ShadowTables(db)
    run = tables.run(version)
    if run is None:
        raise Problem(404, f"no shadow run of {version!r} on this store", "unknown-shadow")
    return shadow_report(tables, run)
