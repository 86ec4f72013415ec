"""Feeding stored notifications to projections, each from its own position.

Positions are notification ids: a projection at position p has applied
every notification up to p and none after. The runner reads from the lowest
position and skips, per projection, what it has already applied, so a
projection rebuilt from zero catches up beside ones that are current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from projections.base import Projection, Tables
from projections.decoding import Decoder, StoredNotification


class Dispatcher:
    def __init__(self, projections: Sequence[Projection]) -> None:
        self.projections = tuple(projections)
        self.decoder = Decoder()

    def apply(
        self, notifications: Iterable[StoredNotification], positions: Mapping[str, int], tables: Tables
    ) -> dict[str, int]:
        """Apply notifications (in id order) to every projection still below them; return new positions."""
        new = {projection.name: positions.get(projection.name, 0) for projection in self.projections}
        everyone = max(new.values(), default=0)  # past this every projection is behind: no per-projection check
        last = None
        for notification in notifications:
            position = notification.id
            if position > everyone:
                behind = self.projections
                last = position
            else:
                behind = tuple(p for p in self.projections if new[p.name] < position)
                if not behind:
                    continue
                for projection in behind:
                    new[projection.name] = position
            for event in self.decoder.decode(notification):
                for projection in behind:
                    projection.apply(event, tables)
        if last is not None:
            new = dict.fromkeys(new, last)
        return new
