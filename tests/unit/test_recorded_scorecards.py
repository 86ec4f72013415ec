"""The scorecard a policy names is recorded with the policy's first use, and read back from the store by version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.scoring import files
from engine.documents import DocumentConflict
from engine.governance import InForce, Requested
from engine.policy import policy_text
from engine.scoring import scorecard as scorecards
from engine.scoring.scorecard import SHIPPED, dump_scorecard, parse_scorecard, shipped_scorecard
from events.documents import DOCUMENT_STREAMS, SCORECARDS, digest_of

STREAM = DOCUMENT_STREAMS[SCORECARDS]
SHIPPED_TEXT = SHIPPED.joinpath("pd-demo-v1.json").read_text(encoding="utf-8")


def streams_of(*documents: InForce) -> dict[str, list[bytes]]:
    """The document streams as the store would hold them after each `documents`' first-use rows were saved."""
    streams: defaultdict[str, list[bytes]] = defaultdict(list)
    for each in documents:
        for stream, _, _, state in each.first_use_rows():
            streams[stream].append(state)
        each.recorded()
    return dict(streams)


def first_used(policy: str) -> InForce:
    documents = InForce(Requested.of(policy_text(policy)))
    documents.load({})
    assert documents.refused is None
    return documents


@pytest.fixture
def unshipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped scorecards gone: an empty folder in their place (a test may put a file there)."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(scorecards, "SHIPPED", folder)
    shipped_scorecard.cache_clear()
    yield folder
    shipped_scorecard.cache_clear()


def test_first_use_of_a_scoring_policy_records_its_scorecard_s_file_text() -> None:
    documents = first_used("default-v2")
    rows = [row for row in documents.first_use_rows() if row[0] == STREAM]
    assert len(rows) == 1
    recorded = InForce()
    recorded.load(streams_of(documents))
    entry = recorded.scorecards.entries["pd-demo-v1"]
    assert entry.document.text == SHIPPED_TEXT  # the file's bytes: its sha256 is the recorded digest
    assert entry.document.digest == digest_of(SHIPPED_TEXT) and entry.note == "ingest"
    assert recorded.first_use_rows() == []  # recorded once: nothing more to record


def test_a_policy_naming_no_scorecard_records_none() -> None:
    assert all(row[0] != STREAM for row in first_used("default-v1").first_use_rows())


def test_the_store_s_scorecard_decides_when_the_file_is_gone(unshipped: Path) -> None:
    with pytest.raises(FileNotFoundError):
        shipped_scorecard("pd-demo-v1")
    streams = streams_of(first_used_with_the_engine_s_file())
    documents = InForce()  # no --policy: the store's active default-v2, its scorecard as recorded
    documents.load(streams)
    assert documents.refused is None and documents.policy is not None
    assert documents.policy.scorecard == parse_scorecard(SHIPPED_TEXT)
    assert documents.policy_for("default-v2").scorecard.version == "pd-demo-v1"
    assert documents.active_scorecard() == parse_scorecard(SHIPPED_TEXT)
    with pytest.raises(FileNotFoundError):
        documents.scorecard_for("pd-never-recorded")


def first_used_with_the_engine_s_file() -> InForce:
    """default-v2's first use, its scorecard the engine's own file (read before the fixture moved SHIPPED)."""
    card = parse_scorecard(SHIPPED_TEXT)
    documents = InForce(Requested.of(policy_text("default-v2"), lambda version: card))
    documents.load({})
    return documents


def test_a_recorded_version_with_other_content_is_refused(unshipped: Path) -> None:
    streams = streams_of(first_used_with_the_engine_s_file())
    card = parse_scorecard(SHIPPED_TEXT)
    other = card.model_copy(update={"base_points": card.base_points + 7})
    (unshipped / "pd-demo-v1.json").write_text(dump_scorecard(other), encoding="utf-8")
    shipped_scorecard.cache_clear()

    requested = InForce(Requested.of(policy_text("default-v2")))  # bound to the (changed) shipped file
    requested.load(streams)
    assert isinstance(requested.refused, DocumentConflict)
    assert "scorecard pd-demo-v1 is already recorded with other content" in requested.refused.reason
    assert "\n" not in requested.refused.reason and requested.first_use_rows() == []
    with pytest.raises(DocumentConflict):
        requested.check(Requested.of(policy_text("default-v2")))  # a what-if or shadow candidate

    governed = InForce()  # the store's policy: its recorded scorecard, the changed file unread
    governed.load(streams)
    assert governed.refused is None and governed.policy is not None
    assert governed.policy.scorecard.base_points == card.base_points
    assert governed.policy_of(policy_text("default-v2")).policy.scorecard == card


def test_the_score_commands_take_the_active_policy_s_scorecard_unless_one_is_named(tmp_path: Path) -> None:
    card = parse_scorecard(SHIPPED_TEXT)
    trained = card.model_copy(
        update={"version": "pd-trained", "training": card.training.model_copy(update={"as_of": date(2030, 1, 1)})}
    )
    (tmp_path / "pd-trained.json").write_text(dump_scorecard(trained), encoding="utf-8")
    scoring = InForce()
    scoring.load(streams_of(first_used("default-v2")))
    assert files.resolve(None, tmp_path, scoring).version == "pd-demo-v1"  # the store's active policy names it
    assert files.resolve("pd-trained", tmp_path, scoring).version == "pd-trained"  # named: option or setting
    not_scoring = InForce()
    not_scoring.load(streams_of(first_used("default-v1")))
    assert files.resolve(None, tmp_path, not_scoring).version == "pd-trained"  # else the folder's latest
    recorded_elsewhere = tmp_path / "elsewhere"
    recorded_elsewhere.mkdir()
    other = card.model_copy(update={"base_points": card.base_points + 1})
    (recorded_elsewhere / "pd-demo-v1.json").write_text(dump_scorecard(other), encoding="utf-8")
    assert files.resolve("pd-demo-v1", recorded_elsewhere, scoring) == card  # a recorded version: as recorded
