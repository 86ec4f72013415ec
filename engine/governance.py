"""The documents the engine decides with: the active policy, holiday calendar and scorecard, as the store records them.

`InForce` reads the `$policies`, `$calendars` and `$scorecards` streams
(engine.documents) and answers two questions: what decides new facts (the
active policy and calendar; on a store that has none, the requested policy or
the shipped seeds, recorded by their first use in the same transaction as the
batch that first uses them; the scorecard that policy names, recorded the
same way), and what decided a recorded fact (any version the store recorded;
a version it never recorded only from the shipped seeds, for stores older
than recorded documents).

This is the one place that decides where a scorecard comes from
(`scorecard_for`): the store's recorded text by version, the shipped file only
for a version the store never recorded. A policy read from the store is bound
to it; a policy handed in from a file (`--policy`, a what-if or shadow
candidate) is bound to the shipped scorecard and checked against the store,
which refuses a recorded version with other content (versions are immutable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.business_days import SEED_VERSION, HolidayCalendar, from_canonical, seed_calendar
from engine.documents import FIRST_USE, Document, DocumentBook, Refused, StoredRow
from engine.policy import (
    DEFAULT_POLICY,
    Policy,
    ScorecardSource,
    parse_policy,
    policy_document,
    policy_text,
    shipped_policies,
)
from engine.scoring.scorecard import Scorecard, dump_scorecard, parse_scorecard, shipped_scorecard
from events.documents import CALENDARS, DOCUMENT_STREAMS, POLICIES, SCORECARDS

DOCUMENT_STREAM_IDS = (DOCUMENT_STREAMS[POLICIES], DOCUMENT_STREAMS[CALENDARS], DOCUMENT_STREAMS[SCORECARDS])


@dataclass(frozen=True)
class Requested:
    """A policy handed in as text (`--policy`, a candidate), validated, its scorecard resolved by `scorecards`."""

    policy: Policy
    document: Document

    @classmethod
    def of(cls, text: str, scorecards: ScorecardSource = shipped_scorecard) -> Requested:
        return cls(*policy_document(text, scorecards))


def seed_calendar_document() -> Document:
    return Document.of(CALENDARS, SEED_VERSION, seed_calendar().canonical())


def scorecard_document(scorecard: Scorecard) -> Document:
    """What the store records of a scorecard: its file's canonical text (`dump_scorecard`), so the
    recorded digest is the sha256 of the shipped file."""
    return Document.of(SCORECARDS, scorecard.version, dump_scorecard(scorecard))


def recorded_scorecards(book: DocumentBook) -> ScorecardSource:
    """A scorecard by version from a `$scorecards` book, else shipped (for a reader without an `InForce`)."""
    documents = InForce()
    documents.scorecards = book
    return documents.scorecard_for


def check_candidate(policies: DocumentBook, scorecards: DocumentBook, candidate: Requested) -> None:
    """Refuse (DocumentConflict) a candidate whose version, or its scorecard's, the books recorded otherwise."""
    policies.known(candidate.document)
    if candidate.policy.scoring is not None:
        scorecards.known(scorecard_document(candidate.policy.scorecard))


class InForce:
    """The policy, calendar and scorecard in force, every recorded version, and the rows their first use must record."""

    def __init__(self, requested: Requested | None = None, user: str = "ingest") -> None:
        self.requested = requested
        self.user = user  # what first used a document, for its record ("ingest", "worker")
        self.policies = DocumentBook(POLICIES)
        self.calendars = DocumentBook(CALENDARS)
        self.scorecards = DocumentBook(SCORECARDS)
        self.policy: Policy | None = None
        self.calendar: HolidayCalendar | None = None
        self.refused: Refused | None = None  # why nothing may decide here (the requested policy is not allowed)
        self._followed = False  # the requested policy was the store's active one: follow the store from now on
        self._policies: dict[str, Policy] = {}  # digest -> parsed
        self._calendars: dict[str, HolidayCalendar] = {}  # digest -> parsed
        self._scorecards: dict[str, Scorecard] = {}  # digest -> parsed

    @property
    def books(self) -> tuple[DocumentBook, DocumentBook, DocumentBook]:
        return self.policies, self.calendars, self.scorecards

    def load(self, streams: Mapping[str, Sequence[bytes]]) -> None:
        """Read the books from their streams' states and settle what decides new facts.

        If the requested policy may not decide here, `refused` says why (readers need not care).
        """
        self.policies, self.calendars = DocumentBook(POLICIES), DocumentBook(CALENDARS)
        self.scorecards = DocumentBook(SCORECARDS)
        for book in self.books:
            for state in streams.get(book.stream, ()):
                book.replay(state)
        self.policy, self.calendar, self.refused = None, None, None
        try:
            self._settle()
        except Refused as refused:
            self.refused = refused
            self.recorded()

    def _settle(self) -> None:
        requested = self.requested
        if requested is not None and self._followed and self.policies.active not in (None, requested.document.version):
            self.requested = requested = None  # another version was approved meanwhile: the store governs
        if requested is not None:
            self.policies.use(requested.document, self.user)
            self._followed = self.policies.active == requested.document.version
            self.policy = requested.policy
        else:
            active = self.policies.active_document
            if active is None:
                seed = Requested.of(policy_text(DEFAULT_POLICY), self.scorecard_for)
                self.policies.use(seed.document, self.user)
                self.policy = seed.policy
            else:
                self.policy = self._parse_policy(active)
        self._use_scorecard(self.policy)
        active_calendar = self.calendars.active_document
        if active_calendar is None:
            self.calendars.use(seed_calendar_document(), self.user)
            self.calendar = seed_calendar()
        else:
            self.calendar = self._parse_calendar(active_calendar)

    def _use_scorecard(self, policy: Policy) -> None:
        """Record the scorecard the deciding policy names, with the batch that first uses it.

        Refused (DocumentConflict) if the store recorded its version with other
        content: a policy handed in from a file is bound to the shipped file.
        """
        if policy.scoring is not None:
            self.scorecards.record(scorecard_document(policy.scorecard), FIRST_USE, self.user)

    def check(self, candidate: Requested) -> None:
        """Refuse (DocumentConflict) a candidate policy, or the scorecard it names, that the store recorded
        under its version with other content."""
        check_candidate(self.policies, self.scorecards, candidate)

    def policy_of(self, text: str) -> Requested:
        """A policy text validated with the scorecards as recorded here (store first, then shipped)."""
        return Requested.of(text, self.scorecard_for)

    def first_use_rows(self) -> list[StoredRow]:
        """The document steps the next saved batch must record with it (their first use)."""
        return [row for book in self.books for row in book.pending]

    def recorded(self) -> None:
        """The first-use rows were saved (or nothing may be recorded: they are dropped)."""
        for book in self.books:
            book.pending.clear()

    # ------------------------------------------------------------ what decided a recorded fact

    def policy_for(self, version: str) -> Policy:
        """The policy a fact was recorded under: from the store, else (older stores) a shipped seed."""
        document = self.policies.document(version)
        if document is not None:
            return self._parse_policy(document)
        if version in shipped_policies():
            return parse_policy(policy_text(version), self.scorecard_for)
        raise LookupError(f"policy {version!r} is neither recorded in the store nor shipped with the engine")

    def calendar_for(self, version: str) -> HolidayCalendar:
        """The calendar a decision cites: from the store, else the shipped seed."""
        document = self.calendars.document(version)
        if document is not None:
            return self._parse_calendar(document)
        if version == SEED_VERSION:
            return seed_calendar()
        raise LookupError(f"calendar {version!r} is not recorded in the store")

    def scorecard_for(self, version: str) -> Scorecard:
        """The scorecard of a version: as the store recorded it, else (never recorded) the shipped file."""
        document = self.scorecards.document(version)
        if document is None:
            return shipped_scorecard(version)
        found = self._scorecards.get(document.digest)
        if found is None:
            found = self._scorecards[document.digest] = parse_scorecard(document.text)
        return found

    def active_scorecard(self) -> Scorecard | None:
        """The scorecard the store's active policy names (None: it names none, or nothing is active)."""
        active = self.policies.active_document
        if active is None:
            return None
        policy = self._parse_policy(active)
        return None if policy.scoring is None else policy.scorecard

    def latest_calendar(self) -> HolidayCalendar:
        active = self.calendars.active_document
        return seed_calendar() if active is None else self._parse_calendar(active)

    def _parse_policy(self, document: Document) -> Policy:
        found = self._policies.get(document.digest)
        if found is None:
            found = self._policies[document.digest] = parse_policy(document.text, self.scorecard_for)
        return found

    def _parse_calendar(self, document: Document) -> HolidayCalendar:
        found = self._calendars.get(document.digest)
        if found is None:
            found = self._calendars[document.digest] = from_canonical(document.text)
        return found
