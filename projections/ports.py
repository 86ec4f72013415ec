"""What the projection runner needs from outside: the log it reads and the store its rows go to.

Adapters implement both for each database (adapters.store); tests may use
rows in memory. Nothing here knows SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from projections.base import Key, Projection, Row, Table
from projections.decoding import StoredNotification

Changes = Sequence[tuple[Table, Mapping[Key, Row | None]]]
"""Per table, each changed key with its new row, or None once deleted."""


class PositionConflict(RuntimeError):
    """Another runner moved a projection's position; nothing of the write was applied."""


class NotificationLog(Protocol):
    """The store's notification log: every stored event, in commit order, numbered from 1."""

    def head(self) -> int: ...
    def read(self, start: int, limit: int) -> Sequence[StoredNotification]: ...
    def recorded_at(self, notification_id: int) -> datetime | None: ...


@dataclass(frozen=True)
class StoredPosition:
    version: int
    position: int
    updated_at: str | None


class ProjectionStore(Protocol):
    """Where projections' rows and positions live, written together so each notification applies once."""

    def prepare(self, projections: Sequence[Projection]) -> None:
        """Create what is missing; empty (position 0) a projection whose version changed."""

    def positions(self) -> dict[str, int]: ...
    def stored_positions(self) -> dict[str, StoredPosition]: ...

    def reset(self, projections: Sequence[Projection]) -> None:
        """Empty these projections' tables (without secondary indexes: a bulk load adds them) at position 0."""

    def create_indexes(self, projections: Sequence[Projection]) -> None: ...
    def read(self, table: Table, key: Key) -> Row | None: ...
    def read_all(self, table: Table) -> list[Row]: ...

    def write(self, changes: Changes, expected: Mapping[str, int], new: Mapping[str, int], *, bulk: bool) -> int:
        """In one transaction: check the positions are still `expected` (else PositionConflict), write the
        changes and move the positions to `new`; returns rows written."""

    def reopen(self) -> None:
        """A fresh connection after a failure (the database may have restarted)."""

    def close(self) -> None: ...
