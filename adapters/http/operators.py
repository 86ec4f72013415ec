"""The operators' routes: the brake and its held locks, unlock reviews, bulk undo, the clock.

Reading needs an analyst key; acting an operator key (the clock: admin), and
the key's holder is the actor recorded with the action (adapters.operators).
An `Idempotency-Key` header makes a repeated request act once (without one,
each target is acted on once: a hold is released once, a review decided once).
A request for one target that cannot be done is answered 409 with the reason;
a bulk request answers 200 with each target's outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from adapters.access.keys import Principal, Role
from adapters.http.auth import require
from adapters.http.problems import Problem
from adapters.http.read_models import connection
from adapters.monitoring.status import brake_report
from adapters.operators.reviews import open_reviews
from adapters.operators.service import ActionOutcome, ActionRefused, Operators
from adapters.store.readers import EngineTables, HoldFilter
from adapters.store.tables import ProjectionDatabase

Json = dict[str, Any]
Db = Annotated[ProjectionDatabase, Depends(connection)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, description="the same key acts once")
]
Operator = Annotated[Principal, require(Role.OPERATOR)]

reading = APIRouter(tags=["operations"], dependencies=[require(Role.ANALYST)])
acting = APIRouter(tags=["operations"])


class OperatorsAccess:
    """The API's one `Operators` (an engine that caches nothing), used by one request at a time."""

    def __init__(self, build: Callable[[], Operators]) -> None:
        self.build = build
        self.lock = threading.Lock()
        self.operators: Operators | None = None

    @contextmanager
    def use(self) -> Iterator[Operators]:
        with self.lock:
            if self.operators is None:
                self.operators = self.build()
            try:
                yield self.operators
            except ActionRefused as refused:
                raise Problem(409, str(refused), "action-refused") from None

    def close(self) -> None:
        if self.operators is not None:
            self.operators.engine.close()
            self.operators.tables.db.close()


def _operators(request: Request) -> OperatorsAccess:
    access: OperatorsAccess = request.app.state.operators
    return access


Access = Annotated[OperatorsAccess, Depends(_operators)]


def _single(outcome: ActionOutcome) -> Json:
    if outcome.outcome == "refused":
        raise Problem(409, f"{outcome.target}: {outcome.reason}", "action-refused")
    return outcome.jsonable()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Release(_Body):
    reason: str | None = Field(None, max_length=2000, description="why (recorded)")


class Drop(_Body):
    reason: str = Field(min_length=1, max_length=2000, description="why (recorded)")


class BulkRelease(_Body):
    hold_ids: list[str] = Field(default_factory=list, max_length=10_000, description="these held locks")
    all: bool = Field(False, description="every held lock the filters select (instead of hold_ids)")
    rule: str | None = None
    after: AwareDatetime | None = Field(None, alias="from", description="causes after this event time")
    until: AwareDatetime | None = Field(None, alias="to", description="causes at or before this event time")
    account_id: str | None = None
    reason: str | None = Field(None, max_length=2000)


class Decision(_Body):
    approved: bool
    note: str = Field(min_length=1, max_length=2000, description="the decision's note (recorded)")
    request_id: str | None = Field(None, description="the open review's request id, to be sure")


class Undo(_Body):
    start: AwareDatetime = Field(alias="from", description="first cause event time of the window")
    end: AwareDatetime = Field(alias="to", description="end of the window (excluded)")
    rule: str | None = None
    reason: str | None = Field(None, max_length=2000, description="why (required unless dry_run)")
    dry_run: bool = False


class Correction(_Body):
    business_date: date
    reason: str = Field(min_length=1, max_length=2000)


@reading.get("/brake", summary="The emergency brake: armed or tripped, since when, locks in the window, bound")
def brake(db: Db) -> Json:
    return brake_report(EngineTables(db))


@reading.get("/held", summary="Automatic locks held by the brake for an operator, oldest cause first")
def held(
    db: Db,
    rule: str | None = None,
    after: Annotated[datetime | None, Query(alias="from", description="causes after this event time")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="causes at or before this event time")] = None,
    account_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[Json]:
    return [lock.jsonable() for lock in EngineTables(db).holds(HoldFilter(rule, after, until, account_id), limit)]


@reading.get("/reviews", summary="Open unlock reviews with their business-day deadline and the days left")
def reviews(
    request: Request,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[Json]:
    return open_reviews(db, request.app.state.review_window.calendar, limit, offset)


@acting.post("/held/{hold_id}/release", summary="Release a held lock: its commands go out, with their command ids")
def release(hold_id: str, body: Release, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        return _single(operators.release(actor, [hold_id], body.reason, key)[0])


@acting.post("/held/{hold_id}/drop", summary="Drop a held lock: nothing is emitted for it")
def drop(hold_id: str, body: Drop, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        return _single(operators.drop(actor, [hold_id], body.reason, key)[0])


@acting.post("/held/release", summary="Release several held locks, or every one the filters select")
def release_many(body: BulkRelease, actor: Operator, access: Access, key: IdempotencyKey = None) -> list[Json]:
    if bool(body.hold_ids) == body.all:
        raise Problem(422, "give hold_ids, or all (with rule/from/to/account_id to narrow it)", "invalid-request")
    with access.use() as operators:
        if body.all:
            which = HoldFilter(body.rule, body.after, body.until, body.account_id)
            outcomes = operators.release_matching(actor, which, body.reason, key)
        else:
            outcomes = operators.release(actor, body.hold_ids, body.reason, key)
    return [outcome.jsonable() for outcome in outcomes]


@acting.post("/reviews/{account_id}/decision", summary="Approve or reject the account's open unlock review")
def decide(account_id: str, body: Decision, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        outcome = operators.decide_review(actor, account_id, body.approved, body.note, body.request_id, key)
    return _single(outcome)


@acting.post("/locks/undo", summary="Undo the automatic locks of a window whose accounts they still lock")
def undo(body: Undo, db: Db, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    if body.end <= body.start:
        raise Problem(422, "to: must be after from", "invalid-request")
    if not body.dry_run and not (body.reason and body.reason.strip()):
        raise Problem(422, "reason: required unless dry_run", "invalid-request")
    with access.use() as operators:
        plan = operators.plan_undo(db, body.start, body.end, body.rule)
        if body.dry_run:
            return {"dry_run": True, "would_undo": [item.jsonable() for item in plan]}
        outcomes = operators.undo(actor, plan, body.start, body.end, body.rule, body.reason or "", key)
    return {"dry_run": False, "outcomes": [outcome.jsonable() for outcome in outcomes]}


@acting.post("/clock/correction", summary="Set the platform clock back to the true business date (admin)")
def correct_clock(
    body: Correction,
    actor: Annotated[Principal, require(Role.ADMIN)],
    access: Access,
    key: IdempotencyKey = None,
) -> Json:
    with access.use() as operators:
        return _single(operators.correct_clock(actor, body.business_date, body.reason, key))
