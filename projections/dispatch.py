"""Feeding stored notifications to projections, each from its own position.

Positions are notification ids: a projection at position p has applied
every notification up to p and none after. The runner reads from the lowest
position and skips, per projection, what it has already applied, so a
projection rebuilt from zero catches up beside ones that are current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from projections.base import Projection, Recorded, Tables
from projections.decoding import Decoder, StoredNotification


class Dispatcher:
    def __init__(self, projections: Sequence[Projection]) -> None:
        self.projections = tuple(projections)
        kinds = {kind for projection in self.projections for kind in projection.reads}
        self.decoder = Decoder(kinds)
        # Each kind of recorded event goes only to the projections that read it.
        self.readers: dict[type[Recorded], tuple[Projection, ...]] = {
            kind: tuple(p for p in self.projections if kind in p.reads) for kind in kinds
        }

    def apply(
        self, notifications: Iterable[StoredNotification], positions: Mapping[str, int], tables: Tables
    ) -> dict[str, int]:
        """Apply notifications (in id order) to every projection still below them; return new positions."""
        new = {projection.name: positions.get(projection.name, 0) for projection in self.projections}
        everyone = max(new.values(), default=0)  # past this every projection is behind: no per-projection check
        readers = self.readers
        decode = self.decoder.decode
        last = None
        for notification in notifications:
            position = notification.id
            if position > everyone:
                last = position
                for event in decode(notification):
                    for projection in readers[type(event)]:
                        projection.apply(event, tables)
                continue
            behind = tuple(p for p in self.projections if new[p.name] < position)
            if not behind:
                continue
            for projection in behind:
                new[projection.name] = position
            for event in decode(notification):
                for projection in readers[type(event)]:
                    if projection in behind:
                        projection.apply(event, tables)
        if last is not None:
            new = dict.fromkeys(new, last)
        return new
