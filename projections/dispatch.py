"""Feeding stored notifications to projections, each from its own position.

Positions are notification ids: a projection at position p has applied
every notification up to p and none after. The runner reads from the lowest
position and skips, per projection, what it has already applied, so a
projection rebuilt from zero catches up beside ones that are current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from projections.account_index import AccountIndex, account_of
from projections.base import Projection, Tables
from projections.decoding import Decoder, StoredNotification


class Dispatcher:
    def __init__(self, projections: Sequence[Projection]) -> None:
        if not projections or not isinstance(projections[0], AccountIndex):
            raise ValueError("the account index must come first: the other projections resolve accounts with it")
        self.projections = tuple(projections)
        self.decoder = Decoder()

    def apply(
        self, notifications: Iterable[StoredNotification], positions: Mapping[str, int], tables: Tables
    ) -> dict[str, int]:
        """Apply notifications (in id order) to every projection still below them; return new positions."""
        new = {projection.name: positions.get(projection.name, 0) for projection in self.projections}
        for notification in notifications:
            behind = [p for p in self.projections if new[p.name] < notification.id]
            if not behind:
                continue
            event = self.decoder.decode(notification, lambda originator: account_of(tables, originator))
            for projection in behind:
                if event is not None:
                    projection.apply(event, tables)
                new[projection.name] = notification.id
        return new
