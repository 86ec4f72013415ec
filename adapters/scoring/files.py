"""Scorecard files: written once (immutable, like a policy), found by version or path, or as the store records them."""

from __future__ import annotations

from pathlib import Path

from engine.governance import InForce
from engine.scoring.scorecard import Scorecard, dump_scorecard, load_scorecard, parse_scorecard


class ScorecardExists(FileExistsError):
    """A scorecard of that version exists with other content: versions are immutable."""


def write(scorecard: Scorecard, path: Path) -> bool:
    """Write the scorecard's file; False if the same bytes are there already. Never replaces other content."""
    text = dump_scorecard(scorecard)
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return False
        raise ScorecardExists(
            f"{path} already holds another scorecard {scorecard.version}: versions are immutable, choose --version"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return True


def resolve(name: str | None, folder: Path, documents: InForce | None = None) -> Scorecard:
    """The scorecard the `score` commands work with.

    Named (option or setting): a file by path, else a version the store recorded (as recorded), else
    `<folder>/<version>.json`, else shipped. Unnamed: the one the store's active policy names, else the
    folder's latest trained (by as-of, version).
    """
    if name:
        by_path = name.endswith(".json") or Path(name).exists()
        if documents is not None and not by_path and documents.scorecards.document(name) is not None:
            return documents.scorecard_for(name)
        return load_scorecard(name, (folder,))
    active = None if documents is None else documents.active_scorecard()
    if active is not None:
        return active
    found = sorted(
        (parse_scorecard(path.read_text(encoding="utf-8")) for path in folder.glob("*.json")),
        key=lambda card: (card.training.as_of, card.version),
    )
    if not found:
        raise FileNotFoundError(
            f"no scorecard in {folder} and the store's active policy names none: "
            "train one with `fengkong score train`, or name one"
        )
    return found[-1]
