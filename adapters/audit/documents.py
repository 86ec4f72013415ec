"""Recorded policies and calendars as people read them: one place for the CLI and the HTTP API."""

from __future__ import annotations

from typing import Any

from engine.business_days import from_canonical, seed_calendar
from engine.documents import Document, DocumentBook, Entry
from engine.governance import InForce, Requested
from engine.policy import Policy, ScorecardSource, policy_text, settings_diff, shipped_policies
from engine.scoring.scorecard import shipped_scorecard, shipped_scorecards


def status_of(entry: Entry, active: str | None) -> str:
    if entry.document.version == active:
        return "active"
    if entry.activated_at is not None:
        return "retired"
    if entry.proposed_by is not None:
        return "proposed"
    return "recorded"


def policy_rows(book: DocumentBook) -> list[dict[str, Any]]:
    """Every recorded policy with its steps, then the shipped seeds the store has not recorded."""
    rows: list[dict[str, Any]] = [
        {"version": version, "status": status_of(entry, book.active), "digest": entry.document.digest, **entry.steps()}
        for version, entry in book.entries.items()
    ]
    rows += [
        {"version": name, "status": "shipped (not recorded)"} for name in shipped_policies() if name not in book.entries
    ]
    return rows


def resolve_policy(
    book: DocumentBook, name_or_path: str, scorecards: ScorecardSource = shipped_scorecard
) -> tuple[Policy, Document, str]:
    """A policy by recorded version (its scorecard by `scorecards`: the store's), file or shipped version,
    and where it came from.

    Raises FileNotFoundError if it is none of these, ValueError if it does not validate.
    """
    recorded = book.document(name_or_path)
    if recorded is not None:
        requested, origin = Requested.of(recorded.text, scorecards), "recorded in the store"
    else:
        text = policy_text(name_or_path)
        origin = "shipped with the engine" if name_or_path in shipped_policies() else "file"
        requested = Requested.of(text)
    return requested.policy, requested.document, origin


def policy_view(
    book: DocumentBook, name_or_path: str, scorecards: ScorecardSource = shipped_scorecard
) -> dict[str, Any]:
    found, document, origin = resolve_policy(book, name_or_path, scorecards)
    entry = book.entries.get(document.version)
    recorded = entry is not None and entry.document.digest == document.digest
    return {
        "version": found.version,
        "origin": origin,
        "digest": document.digest,
        "status": status_of(entry, book.active) if entry is not None and recorded else None,
        "settings": found.model_dump(mode="json"),
        "steps": entry.steps() if entry is not None and recorded else None,
        "text": document.text,
    }


def policy_differences(
    book: DocumentBook, a: str, b: str, scorecards: ScorecardSource = shipped_scorecard
) -> dict[str, Any]:
    left, _, _ = resolve_policy(book, a, scorecards)
    right, _, _ = resolve_policy(book, b, scorecards)
    return {
        "a": left.version,
        "b": right.version,
        "differences": [{"setting": name, "a": x, "b": y} for name, x, y in settings_diff(left, right)],
    }


def scorecard_rows(documents: InForce) -> list[dict[str, Any]]:
    """Every scorecard the store recorded, with the policies naming it (status `active`: the active policy's),
    then the shipped ones it has not."""
    active = documents.active_scorecard()
    named_by: dict[str, list[str]] = {}
    for version in documents.policies.entries:
        scoring = documents.policy_for(version).scoring
        if scoring is not None:
            named_by.setdefault(scoring.scorecard, []).append(version)
    rows: list[dict[str, Any]] = [
        {
            "version": version,
            "status": "active" if active is not None and active.version == version else "recorded",
            "digest": entry.document.digest,
            "recorded": {"at": entry.recorded_at, "by": entry.recorded_by, "note": entry.note},
            "named_by": named_by.get(version, []),
        }
        for version, entry in documents.scorecards.entries.items()
    ]
    rows += [
        {"version": name, "status": "shipped (not recorded)", "named_by": named_by.get(name, [])}
        for name in shipped_scorecards()
        if name not in documents.scorecards.entries
    ]
    return rows


def calendar_rows(book: DocumentBook) -> list[dict[str, Any]]:
    rows = []
    for version, entry in book.entries.items():
        rows.append(
            {
                "version": version,
                "active": version == book.active,
                "digest": entry.document.digest,
                "years": sorted(from_canonical(entry.document.text).years),
                "recorded": {"at": entry.recorded_at, "by": entry.recorded_by, "note": entry.note},
                "based_on": entry.extra.get("based_on"),
                "source": {k: v for k, v in (entry.extra.get("source") or {}).items() if k != "text"} or None,
            }
        )
    if not rows:
        seed = seed_calendar()
        rows.append(
            {
                "version": seed.version,
                "active": True,
                "digest": None,
                "years": sorted(seed.years),
                "recorded": None,
                "based_on": None,
                "source": {"note": "shipped seed, recorded by the first batch"},
            }
        )
    return rows
