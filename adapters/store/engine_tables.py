"""Rows of the engine's own tables, shaped the same for every database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def agenda_rows(agenda: Sequence[tuple[str, date | None]]) -> tuple[list[tuple[str, str]], list[tuple[str]]]:
    """(account, due date) rows to upsert and (account,) rows to delete."""
    due = [(account_id, day.isoformat()) for account_id, day in agenda if day is not None]
    cleared = [(account_id,) for account_id, day in agenda if day is None]
    return due, cleared
