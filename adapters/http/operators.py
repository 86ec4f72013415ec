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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from adapters.access.keys import Principal, Role
from adapters.http.auth import require
from adapters.http.problems import Problem, responses
from adapters.http.read_models import AccountId, built, connection
from adapters.monitoring.status import brake_report
from adapters.operators.reviews import open_reviews
from adapters.operators.service import ActionOutcome, ActionRefused, Operators
from adapters.store.readers import EngineTables, HoldFilter
from adapters.store.tables import ProjectionDatabase
from events.types import ACCOUNT_ID_PATTERN, Timestamp
from events.types import IsoDate as ContractDate

Json = dict[str, Any]
Db = Annotated[ProjectionDatabase, Depends(connection)]
Built = Annotated[ProjectionDatabase, Depends(built)]
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
HoldId = Annotated[str, Path(pattern=UUID_PATTERN, description="a held lock's id (its LockCard's command id)")]
# Free text in a body is bounded here and checked by the action itself (events.operator: no control
# characters), which refuses it with 409 naming the field: the fuzzer's reading of the contract's
# "no control characters" pattern differs from the contract's own, so the document leaves it out.
Note = Annotated[str, Field(max_length=2000)]
Why = Annotated[str, Field(min_length=1, max_length=2000, description="why (recorded)")]
LockRule = Literal["lock.overdue", "lock.broken_plan"]


Moment = Timestamp  # an event time of the contract: RFC 3339 text with its offset, years 2000 to 2199
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
    reason: Note | None = Field(None, description="why (recorded)")


class Drop(_Body):
    reason: Why


class ReleaseMany(_Body):
    hold_ids: list[Annotated[str, Field(pattern=UUID_PATTERN)]] = Field(
        min_length=1, max_length=400, description="these held locks (more at once: /held/release-all)"
    )
    reason: Note | None = None


class ReleaseAll(_Body):
    rule: LockRule | None = Field(None, description="only locks of this rule")
    after: Moment | None = Field(None, alias="from", description="only causes after this event time")
    until: Moment | None = Field(None, alias="to", description="only causes at or before this event time")
    account_id: str | None = Field(None, pattern=ACCOUNT_ID_PATTERN, description="only this account's")
    reason: Note | None = None


class Decision(_Body):
    approved: StrictBool
    note: Annotated[str, Field(min_length=1, max_length=2000, description="the decision's note (recorded)")]
    request_id: str | None = Field(None, max_length=128, description="the open review's request id, to be sure")


class Undo(_Body):
    start: Moment = Field(alias="from", description="first cause event time of the window")
    end: Moment = Field(alias="to", description="end of the window (excluded; a window that ends first is empty)")
    rule: LockRule | None = None
    reason: Why
    dry_run: StrictBool = Field(False, description="list what would be undone; change nothing")


class Correction(_Body):
    business_date: ContractDate
    reason: Why


@reading.get(
    "/brake",
    operation_id="brake",
    summary="The emergency brake: armed or tripped, since when, locks in the window, bound",
    responses=responses(),
)
def brake(db: Db) -> Json:
    return brake_report(EngineTables(db))


@reading.get(
    "/held",
    operation_id="held",
    summary="Automatic locks held by the brake for an operator, oldest cause first",
    responses=responses(),
)
def held(
    db: Db,
    rule: LockRule | None = None,
    after: Annotated[Moment | None, Query(alias="from", description="causes after this event time")] = None,
    until: Annotated[Moment | None, Query(alias="to", description="causes at or before this event time")] = None,
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[Json]:
    return [lock.jsonable() for lock in EngineTables(db).holds(HoldFilter(rule, after, until, account_id), limit)]


@reading.get(
    "/reviews",
    operation_id="reviews",
    summary="Open unlock reviews with their business-day deadline and the days left",
    responses=responses(),
)
def reviews(
    request: Request,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[Json]:
    return open_reviews(db, request.app.state.review_window.calendar, limit, offset)


@acting.post(
    "/held/{hold_id}/release",
    operation_id="release",
    summary="Release a held lock: its commands go out, with their command ids",
    responses=responses(400, 409),
)
def release(hold_id: HoldId, body: Release, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        return _single(operators.release(actor, [hold_id], body.reason, key)[0])


@acting.post(
    "/held/{hold_id}/drop",
    operation_id="drop",
    summary="Drop a held lock: nothing is emitted for it",
    responses=responses(400, 409),
)
def drop(hold_id: HoldId, body: Drop, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        return _single(operators.drop(actor, [hold_id], body.reason, key)[0])


@acting.post(
    "/held/release",
    operation_id="release_many",
    summary="Release several held locks",
    responses=responses(400, 409),
)
def release_many(body: ReleaseMany, actor: Operator, access: Access, key: IdempotencyKey = None) -> list[Json]:
    with access.use() as operators:
        outcomes = operators.release(actor, body.hold_ids, body.reason, key)
    return [outcome.jsonable() for outcome in outcomes]


@acting.post(
    "/held/release-all",
    operation_id="release_all",
    summary="Release every held lock the filters select",
    responses=responses(400, 409),
)
def release_all(body: ReleaseAll, actor: Operator, access: Access, key: IdempotencyKey = None) -> list[Json]:
    which = HoldFilter(body.rule, body.after, body.until, body.account_id)
    with access.use() as operators:
        outcomes = operators.release_matching(actor, which, body.reason, key)
    return [outcome.jsonable() for outcome in outcomes]


@acting.post(
    "/reviews/{account_id}/decision",
    operation_id="decide_review",
    summary="Approve or reject the account's open unlock review",
    responses=responses(400, 409),
)
def decide(account_id: AccountId, body: Decision, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        outcome = operators.decide_review(actor, account_id, body.approved, body.note, body.request_id, key)
    return _single(outcome)


@acting.post(
    "/locks/undo",
    operation_id="undo_locks",
    summary="Undo the automatic locks of a window whose accounts they still lock",
    responses=responses(400, 409),
)
def undo(body: Undo, db: Built, actor: Operator, access: Access, key: IdempotencyKey = None) -> Json:
    with access.use() as operators:
        plan = operators.plan_undo(db, body.start, body.end, body.rule) if body.start < body.end else []
        if body.dry_run:
            return {"dry_run": True, "would_undo": [item.jsonable() for item in plan]}
        outcomes = operators.undo(actor, plan, body.start, body.end, body.rule, body.reason, key)
    return {"dry_run": False, "outcomes": [outcome.jsonable() for outcome in outcomes]}


@acting.post(
    "/clock/correction",
    operation_id="correct_clock",
    summary="Set the platform clock back to the true business date (admin)",
    responses=responses(400, 409),
)
def correct_clock(
    body: Correction,
    actor: Annotated[Principal, require(Role.ADMIN)],
    access: Access,
    key: IdempotencyKey = None,
) -> Json:
    with access.use() as operators:
        return _single(operators.correct_clock(actor, body.business_date, body.reason, key))
