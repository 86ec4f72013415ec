"""The documents the engine decides with: the active policy and holiday calendar, as the store records them.

`InForce` reads the `$policies` and `$calendars` streams (engine.documents)
and answers two questions: what decides new facts (the active policy and
calendar; on a store that has none, the requested policy or the shipped
seeds, recorded by their first use in the same transaction as the batch that
first uses them), and what decided a recorded fact (any version the store
recorded; a version it never recorded only from the shipped seeds, for
stores older than recorded documents).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.business_days import SEED_VERSION, HolidayCalendar, from_canonical, seed_calendar
from engine.documents import Document, DocumentBook, Refused, StoredRow
from engine.policy import DEFAULT_POLICY, Policy, parse_policy, policy_document, policy_text, shipped_policies
from events.documents import CALENDARS, DOCUMENT_STREAMS, POLICIES

DOCUMENT_STREAM_IDS = (DOCUMENT_STREAMS[POLICIES], DOCUMENT_STREAMS[CALENDARS])


@dataclass(frozen=True)
class Requested:
    """The policy an entry point was told to decide with (`--policy`), its text validated."""

    policy: Policy
    document: Document

    @classmethod
    def of(cls, text: str) -> Requested:
        return cls(*policy_document(text))


def seed_calendar_document() -> Document:
    return Document.of(CALENDARS, SEED_VERSION, seed_calendar().canonical())


class InForce:
    """The policy and calendar in force, every recorded version, and the rows their first use must record."""

    def __init__(self, requested: Requested | None = None, user: str = "ingest") -> None:
        self.requested = requested
        self.user = user  # what first used a document, for its record ("ingest", "worker")
        self.policies = DocumentBook(POLICIES)
        self.calendars = DocumentBook(CALENDARS)
        self.policy: Policy | None = None
        self.calendar: HolidayCalendar | None = None
        self.refused: Refused | None = None  # why nothing may decide here (the requested policy is not allowed)
        self._followed = False  # the requested policy was the store's active one: follow the store from now on
        self._policies: dict[str, Policy] = {}  # digest -> parsed
        self._calendars: dict[str, HolidayCalendar] = {}  # digest -> parsed

    def stream_versions(self) -> tuple[int, int]:
        return self.policies.version, self.calendars.version

    def load(self, streams: Mapping[str, Sequence[bytes]]) -> None:
        """Read the books from their streams' states and settle what decides new facts.

        If the requested policy may not decide here, `refused` says why (readers need not care).
        """
        self.policies, self.calendars = DocumentBook(POLICIES), DocumentBook(CALENDARS)
        for state in streams.get(self.policies.stream, ()):
            self.policies.replay(state)
        for state in streams.get(self.calendars.stream, ()):
            self.calendars.replay(state)
        self.policy, self.calendar, self.refused = None, None, None
        try:
            self._settle()
        except Refused as refused:
            self.refused = refused
            self.policies.pending.clear()
            self.calendars.pending.clear()

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
                seed = Requested.of(policy_text(DEFAULT_POLICY))
                self.policies.use(seed.document, self.user)
                self.policy = seed.policy
            else:
                self.policy = self._parse_policy(active)
        active_calendar = self.calendars.active_document
        if active_calendar is None:
            self.calendars.use(seed_calendar_document(), self.user)
            self.calendar = seed_calendar()
        else:
            self.calendar = self._parse_calendar(active_calendar)

    def first_use_rows(self) -> list[StoredRow]:
        """The document steps the next saved batch must record with it (their first use)."""
        return [*self.policies.pending, *self.calendars.pending]

    def recorded(self) -> None:
        """The first-use rows were saved."""
        self.policies.pending.clear()
        self.calendars.pending.clear()

    # ------------------------------------------------------------ what decided a recorded fact

    def policy_for(self, version: str) -> Policy:
        """The policy a fact was recorded under: from the store, else (older stores) a shipped seed."""
        document = self.policies.document(version)
        if document is not None:
            return self._parse_policy(document)
        if version in shipped_policies():
            return parse_policy(policy_text(version))
        raise LookupError(f"policy {version!r} is neither recorded in the store nor shipped with the engine")

    def calendar_for(self, version: str) -> HolidayCalendar:
        """The calendar a decision cites: from the store, else the shipped seed."""
        document = self.calendars.document(version)
        if document is not None:
            return self._parse_calendar(document)
        if version == SEED_VERSION:
            return seed_calendar()
        raise LookupError(f"calendar {version!r} is not recorded in the store")

    def latest_calendar(self) -> HolidayCalendar:
        active = self.calendars.active_document
        return seed_calendar() if active is None else self._parse_calendar(active)

    def _parse_policy(self, document: Document) -> Policy:
        found = self._policies.get(document.digest)
        if found is None:
            found = self._policies[document.digest] = parse_policy(document.text)
        return found

    def _parse_calendar(self, document: Document) -> HolidayCalendar:
        found = self._calendars.get(document.digest)
        if found is None:
            found = self._calendars[document.digest] = from_canonical(document.text)
        return found
