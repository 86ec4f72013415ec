"""Recorded documents and their governance: the aggregate of one `$<kind>` stream (events.documents).

A `DocumentBook` knows every version of one kind of document the store
recorded (policies, calendars, scorecards), their full texts and
digests, which one is active, and each proposal's steps. Its rules are the
domain's, not the command line's:

- a version is immutable: recording it again with other content is refused;
- a policy becomes active on first use only when none is active yet; after
  that, only through four eyes: proposed by an admin, a what-if report over
  recorded history and a shadow period attached (both of this very text),
  approved by an admin other than the author;
- a calendar (no decisions taken by people depend on its choice) is recorded
  and activated on load;
- a scorecard is recorded with the first use of a policy naming it
  (engine.governance); it is never activated itself: the active policy
  names the one in force.

Steps are appended as stored events on the book's stream, saved by the
caller (with a batch on first use, alone otherwise); two writers cannot
both append the same stream version (the store's key refuses the second).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from events.documents import DOCUMENT_STREAMS, DOCUMENT_TOPIC, POLICIES, decode_step, digest_of, encode_step

StoredRow = tuple[str, int, str, bytes]
"""(stream id, version, topic, state), as engine.account.StoredRow."""
FIRST_USE = "(first use)"
"""Who a document recorded and activated by its first use is recorded as: no person chose it."""


class Refused(Exception):
    """A document step the rules do not allow; the reason is one line for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DocumentConflict(Refused):
    """A version the store knows with other content: versions are immutable."""


@dataclass(frozen=True)
class Document:
    kind: str
    version: str
    text: str
    digest: str

    @classmethod
    def of(cls, kind: str, version: str, text: str) -> Document:
        return cls(kind, version, text, digest_of(text))


@dataclass
class Entry:
    """One recorded version and the steps it went through."""

    document: Document
    recorded_at: int
    recorded_by: str
    note: str
    extra: dict[str, Any] = field(default_factory=dict)
    proposed_by: str | None = None
    report: dict[str, Any] | None = None
    report_by: str | None = None
    shadow: dict[str, Any] | None = None
    shadow_by: str | None = None
    approved_by: str | None = None
    activated_at: int | None = None
    activated_by: str | None = None

    def steps(self) -> dict[str, Any]:
        return {
            "recorded": {"at": self.recorded_at, "by": self.recorded_by, "note": self.note},
            "proposed_by": self.proposed_by,
            "report": None if self.report is None else {"by": self.report_by, **self.report},
            "shadow": None if self.shadow is None else {"by": self.shadow_by, **self.shadow},
            "approved_by": self.approved_by,
            "activated": None if self.activated_at is None else {"at": self.activated_at, "by": self.activated_by},
        }


class DocumentBook:
    """Every recorded version of one kind of document, and the active one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.stream = DOCUMENT_STREAMS[kind]
        self.entries: dict[str, Entry] = {}
        self.active: str | None = None
        self.version = 0
        self.pending: list[StoredRow] = []

    # ------------------------------------------------------------ state

    def replay(self, state: bytes) -> None:
        self._apply(decode_step(state))
        self.version += 1

    def _apply(self, step: dict[str, Any]) -> None:
        kind, version, by = step["step"], step["version"], step["by"]
        if kind == "recorded":
            document = Document(self.kind, version, step["text"], step["digest"])
            extra = {k: v for k, v in step.items() if k not in ("v", "at", "step", "version", "by", "text", "digest")}
            note = extra.pop("note", "")
            self.entries[version] = Entry(document, step["at"], by, note, extra)
            return
        entry = self.entries[version]
        if kind == "proposed":
            entry.proposed_by = by
        elif kind == "report_attached":
            entry.report, entry.report_by = step["report"], by
        elif kind == "shadow_attached":
            entry.shadow, entry.shadow_by = step["shadow"], by
        elif kind == "approved":
            entry.approved_by = by
        elif kind == "activated":
            entry.activated_at, entry.activated_by = step["at"], by
            self.active = version

    def _append(self, step: str, version: str, by: str, **fields: Any) -> None:
        state = encode_step(step, version, by, **fields)
        self._apply(decode_step(state))
        self.version += 1
        self.pending.append((self.stream, self.version, DOCUMENT_TOPIC, state))

    def collect(self) -> list[StoredRow]:
        rows, self.pending = self.pending, []
        return rows

    def document(self, version: str) -> Document | None:
        entry = self.entries.get(version)
        return None if entry is None else entry.document

    @property
    def active_document(self) -> Document | None:
        return None if self.active is None else self.entries[self.active].document

    # ------------------------------------------------------------ rules

    def known(self, document: Document) -> bool:
        """Whether this very text is recorded; refused if its version is recorded with other content."""
        entry = self.entries.get(document.version)
        if entry is None:
            return False
        if entry.document.digest != document.digest:
            raise DocumentConflict(
                f"{self.kind} {document.version} is already recorded with other content "
                f"({entry.document.digest[:19]}, this text {document.digest[:19]}): "
                "a version is immutable, give the new content a new version"
            )
        return True

    def record(self, document: Document, by: str, note: str, **extra: Any) -> None:
        """Record a version's full text (nothing if this very text is recorded already)."""
        if not self.known(document):
            self._append(
                "recorded", document.version, by, digest=document.digest, text=document.text, note=note, **extra
            )

    def use(self, document: Document, user: str) -> None:
        """Decide with `document`: its first use records and activates it if nothing is active yet.

        Anything but the active version is refused: another one becomes active
        only through proposal and approval (four eyes).
        """
        known = self.known(document)
        if self.active is None:
            if not known:
                self._append(
                    "recorded", document.version, FIRST_USE, digest=document.digest, text=document.text, note=user
                )
            self._append("activated", document.version, FIRST_USE)
            return
        if self.active != document.version:
            raise Refused(
                f"{self.kind} {document.version} is not the active {self.kind} ({self.active}): "
                f"a new {self.kind} becomes active through `fengkong {self.kind} propose`, "
                "a what-if report, a shadow run and another admin's approval"
            )

    def load(self, document: Document, by: str, note: str, **extra: Any) -> None:
        """Record and activate at once (calendars: an admin loads the year's official schedule)."""
        if self.kind == POLICIES:
            raise Refused("a policy is activated by approval, never loaded")
        self.record(document, by, note, **extra)
        if self.active != document.version:
            self._append("activated", document.version, by)

    def propose(self, document: Document, by: str) -> None:
        if self.known(document):
            entry = self.entries[document.version]
            if entry.activated_at is not None:
                raise Refused(f"{self.kind} {document.version} has been active already: nothing to propose")
            if entry.proposed_by is not None:
                raise Refused(f"{self.kind} {document.version} is proposed already (by {entry.proposed_by})")
        else:
            self._append("recorded", document.version, by, digest=document.digest, text=document.text, note="proposal")
        self._append("proposed", document.version, by)

    def _proposal(self, version: str) -> Entry:
        entry = self.entries.get(version)
        if entry is None or entry.proposed_by is None:
            raise Refused(f"{self.kind} {version} is not proposed: `fengkong {self.kind} propose FILE` first")
        if entry.activated_at is not None:
            raise Refused(f"{self.kind} {version} is active already")
        return entry

    def attach_report(self, version: str, by: str, report: dict[str, Any]) -> None:
        """Attach a what-if report over recorded history, which must be of this very text."""
        entry = self._proposal(version)
        self._same_text(entry, report, "the what-if report")
        self._append("report_attached", version, by, report=report)

    def attach_shadow(self, version: str, by: str, shadow: dict[str, Any]) -> None:
        """Attach a shadow period: this very text ran beside the active one on live traffic."""
        entry = self._proposal(version)
        self._same_text(entry, shadow, "the shadow run")
        if int(shadow.get("facts", 0)) < 1:
            raise Refused(f"the shadow run of {version} has seen no recorded fact yet: let it run on live traffic")
        self._append("shadow_attached", version, by, shadow=shadow)

    def _same_text(self, entry: Entry, evidence: dict[str, Any], what: str) -> None:
        if evidence.get("candidate_digest") != entry.document.digest:
            raise Refused(f"{what} is not of the text recorded for {entry.document.version}")

    def approve(self, version: str, by: str) -> None:
        """Four eyes: another admin than the author approves a proposal with its evidence; it becomes active."""
        entry = self._proposal(version)
        if by == entry.proposed_by:
            raise Refused(f"{by} proposed {version}: another admin must approve it (four eyes)")
        if entry.report is None:
            raise Refused(f"{version} has no what-if report attached: `fengkong {self.kind} report {version}` first")
        if entry.shadow is None:
            raise Refused(f"{version} has no shadow period attached: `fengkong {self.kind} shadow {version}` first")
        self._append("approved", version, by)
        self._append("activated", version, by)
