"""The rules of recorded documents, in the domain: immutable versions, first use, four eyes."""

from __future__ import annotations

from typing import Any

import pytest

from engine.documents import FIRST_USE, Document, DocumentBook, DocumentConflict, Refused
from engine.policy import policy_text
from events.documents import CALENDARS, POLICIES

DEFAULT = Document.of(POLICIES, "default-v1", policy_text("default-v1"))
CANDIDATE = Document.of(
    POLICIES, "dpd7-v1", policy_text("default-v1").replace("min_days_past_due = 1", "min_days_past_due = 7")
)
REPORT = {"candidate_digest": CANDIDATE.digest, "differing_count": 3}
SHADOW = {"candidate_digest": CANDIDATE.digest, "facts": 120}


def replayed(book: DocumentBook) -> DocumentBook:
    """The book as another process reads it back from the rows it saved."""
    again = DocumentBook(book.kind)
    for _, _, _, state in book.collect():
        again.replay(state)
    return again


def book_with_proposal(author: str = "alice") -> DocumentBook:
    book = DocumentBook(POLICIES)
    book.use(DEFAULT, "ingest")
    book.propose(CANDIDATE, author)
    return book


def test_first_use_records_the_full_text_and_activates_it() -> None:
    book = DocumentBook(POLICIES)
    book.use(DEFAULT, "ingest")
    again = replayed(book)
    assert again.active == "default-v1" and again.version == 2
    entry = again.entries["default-v1"]
    assert entry.document == DEFAULT and entry.recorded_by == FIRST_USE and entry.activated_by == FIRST_USE
    again.use(DEFAULT, "worker")  # the active one again: nothing to record
    assert again.pending == []


def test_a_known_version_with_other_content_is_refused() -> None:
    book = DocumentBook(POLICIES)
    book.use(DEFAULT, "ingest")
    other = Document.of(POLICIES, "default-v1", DEFAULT.text + "\n# edited\n")
    with pytest.raises(DocumentConflict, match="already recorded with other content"):
        book.use(other, "ingest")
    with pytest.raises(DocumentConflict, match="new version"):
        book.propose(other, "alice")


def test_another_policy_than_the_active_one_is_refused_with_a_pointer_to_propose() -> None:
    book = DocumentBook(POLICIES)
    book.use(DEFAULT, "ingest")
    with pytest.raises(Refused, match="fengkong policy propose"):
        book.use(CANDIDATE, "ingest")
    assert book.active == "default-v1"


def test_the_author_cannot_approve_their_own_policy() -> None:
    book = book_with_proposal("alice")
    book.attach_report("dpd7-v1", "alice", REPORT)
    book.attach_shadow("dpd7-v1", "alice", SHADOW)
    with pytest.raises(Refused, match="another admin must approve"):
        book.approve("dpd7-v1", "alice")
    assert book.active == "default-v1"


def test_a_policy_without_a_report_cannot_be_activated() -> None:
    book = book_with_proposal()
    book.attach_shadow("dpd7-v1", "alice", SHADOW)
    with pytest.raises(Refused, match="no what-if report"):
        book.approve("dpd7-v1", "bob")
    assert book.active == "default-v1"


def test_a_policy_without_a_shadow_period_cannot_be_activated() -> None:
    book = book_with_proposal()
    book.attach_report("dpd7-v1", "alice", REPORT)
    with pytest.raises(Refused, match="no shadow period"):
        book.approve("dpd7-v1", "bob")


@pytest.mark.parametrize(
    "evidence, reason",
    [
        ({"candidate_digest": DEFAULT.digest, "facts": 5}, "not of the text"),
        ({"candidate_digest": CANDIDATE.digest, "facts": 0}, "no recorded fact"),
    ],
)
def test_evidence_must_be_of_this_very_text_and_a_shadow_must_have_seen_traffic(
    evidence: dict[str, Any], reason: str
) -> None:
    book = book_with_proposal()
    with pytest.raises(Refused, match=reason):
        book.attach_shadow("dpd7-v1", "alice", evidence)


def test_another_admin_approves_with_evidence_and_the_policy_becomes_active_step_by_step() -> None:
    book = book_with_proposal("alice")
    book.attach_report("dpd7-v1", "alice", REPORT)
    book.attach_shadow("dpd7-v1", "carol", SHADOW)
    book.approve("dpd7-v1", "bob")
    steps = [state for _, _, _, state in book.pending]
    again = replayed(book)
    assert again.active == "dpd7-v1"
    entry = again.entries["dpd7-v1"]
    assert (entry.proposed_by, entry.report_by, entry.shadow_by, entry.approved_by) == (
        "alice",
        "alice",
        "carol",
        "bob",
    )
    assert (
        len(steps) == 8
    )  # default: recorded, activated; candidate: recorded, proposed, report, shadow, approved, activated
    with pytest.raises(Refused, match="active already"):
        again.approve("dpd7-v1", "dave")


def test_steps_need_a_proposal_and_a_policy_is_never_loaded() -> None:
    book = DocumentBook(POLICIES)
    with pytest.raises(Refused, match="not proposed"):
        book.attach_report("dpd7-v1", "alice", REPORT)
    with pytest.raises(Refused, match="never loaded"):
        book.load(CANDIDATE, "alice", "file")


def test_a_calendar_is_recorded_and_activated_on_load() -> None:
    book = DocumentBook(CALENDARS)
    first = Document.of(CALENDARS, "CN-2", '{"years": {}}')
    book.load(first, "alice", "notice", based_on="chinesecalendar 1.11.0")
    again = replayed(book)
    assert again.active == "CN-2" and again.entries["CN-2"].extra == {"based_on": "chinesecalendar 1.11.0"}
