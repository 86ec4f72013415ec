"""Policies and calendars over HTTP: read by analysts; a proposal approved by an admin (four eyes).

The rules are the domain's (engine.documents): the approving admin is the
holder of the key (their name is recorded), and may not be the author; the
proposal needs its what-if report and shadow period attached. A refusal is
409 with the rule that refused it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from adapters.access.keys import Principal, Role
from adapters.audit.documents import calendar_rows, policy_differences, policy_rows, policy_view
from adapters.http.auth import require
from adapters.http.problems import Problem, responses
from adapters.store.documents import RecordedDocuments, StaleBook
from engine.documents import DocumentBook, Refused
from engine.governance import Requested, check_candidate, recorded_scorecards
from engine.policy import ScorecardSource
from events.documents import CALENDARS, POLICIES, SCORECARDS

Json = dict[str, Any]
router = APIRouter(tags=["policies"])
ANALYST = [require(Role.ANALYST)]
Version = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="a policy's version", examples=["default-v1"])
]


def _documents(request: Request) -> RecordedDocuments:
    documents: RecordedDocuments = request.app.state.documents
    return documents


def _scorecards(request: Request) -> ScorecardSource:
    """Scorecards as the store recorded them (a recorded policy names one), else shipped."""
    return recorded_scorecards(_documents(request).book(SCORECARDS))


def _known(request: Request, name: str) -> Json:
    book = _documents(request).book(POLICIES)
    if book.document(name) is None and name not in {row["version"] for row in policy_rows(book)}:
        raise Problem(404, f"no policy {name!r} is recorded in the store or shipped", "unknown-policy")
    return policy_view(book, name, _scorecards(request))


@router.get(
    "/policies",
    summary="Every policy the store recorded, with its steps, and the shipped seeds",
    operation_id="policies",
    dependencies=ANALYST,
    responses=responses(),
)
def policies(request: Request) -> list[Json]:
    return policy_rows(_documents(request).book(POLICIES))


@router.get(
    "/policies/{version}",
    summary="A policy: its settings, digest, steps and full text",
    operation_id="policy",
    dependencies=ANALYST,
    responses=responses(404),
)
def policy(request: Request, version: Version) -> Json:
    return _known(request, version)


@router.get(
    "/policies/{a}/diff/{b}",
    summary="The settings that differ between two policies",
    operation_id="policy_diff",
    dependencies=ANALYST,
    responses=responses(404),
)
def diff(request: Request, a: Version, b: Version) -> Json:
    _known(request, a)
    _known(request, b)
    return policy_differences(_documents(request).book(POLICIES), a, b, _scorecards(request))


class Proposal(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=200_000, description="the policy file's full text (TOML)")]


def _step(request: Request, apply: Any) -> None:
    documents = _documents(request)
    book = documents.book(POLICIES)
    try:
        apply(book)
        documents.save(book)
    except Refused as refused:
        raise Problem(409, refused.reason, "refused") from None
    except StaleBook:
        raise Problem(409, "another change to the policies was saved meanwhile: try again", "conflict") from None


@router.post(
    "/policies",
    status_code=201,
    summary="Propose a policy for activation (admin; you are its author)",
    operation_id="propose_policy",
    responses=responses(400, 409),
)
def propose(request: Request, body: Proposal, principal: Annotated[Principal, require(Role.ADMIN)]) -> Json:
    try:
        requested = Requested.of(body.text)
    except ValueError as error:
        raise Problem(422, f"the policy does not validate: {str(error).splitlines()[0]}", "invalid-policy") from None
    scorecards = _documents(request).book(SCORECARDS)

    def apply(book: DocumentBook) -> None:
        check_candidate(book, scorecards, requested)  # its scorecard too: a recorded version is immutable
        book.propose(requested.document, principal.name)

    _step(request, apply)
    return _known(request, requested.document.version)


@router.post(
    "/policies/{version}/approve",
    summary="Approve a proposal (admin, not its author): it becomes active",
    operation_id="approve_policy",
    responses=responses(404, 409),
)
def approve(request: Request, version: Version, principal: Annotated[Principal, require(Role.ADMIN)]) -> Json:
    _step(request, lambda book: book.approve(version, principal.name))
    return _known(request, version)


@router.get(
    "/calendars",
    summary="Every holiday calendar the store recorded, the years each covers, the active one",
    operation_id="calendars",
    dependencies=ANALYST,
    responses=responses(),
)
def calendars(request: Request) -> list[Json]:
    return calendar_rows(_documents(request).book(CALENDARS))
