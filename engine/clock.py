"""The platform clock: the business dates billing has closed, in order.

DayClosed events carry no account; they are recorded once here and then
brought to the accounts whose agenda (an open review's deadline) falls due.
"""

from __future__ import annotations

import uuid
from datetime import date

from eventsourcing.domain import Aggregate, event

from engine.ledger import Rejected
from events.inbound import DayClosed, ParsedEvent

CLOCK_ID = uuid.UUID("5d7b0a3e-2a43-4a7c-9c1b-8e1f0c3b6a44")


class PlatformClock(Aggregate):
    class DayRecorded(Aggregate.Event):
        fact: str
        business_date: str

    @staticmethod
    def create_id() -> uuid.UUID:
        return CLOCK_ID

    @event("Started")
    def __init__(self) -> None:
        self.business_date: date | None = None

    def close(self, parsed: ParsedEvent) -> None:
        """Record a closed business date; the clock never goes backwards."""
        assert isinstance(parsed.event, DayClosed)
        closing = parsed.event.data.business_date
        if self.business_date is not None and closing <= self.business_date:
            word = "already closed" if closing == self.business_date else "goes backwards"
            raise Rejected(f"data.business_date: {closing} {word}; last closed {self.business_date}")
        self._record(parsed.canonical, closing.isoformat())

    @event(DayRecorded)
    def _record(self, fact: str, business_date: str) -> None:
        self.business_date = date.fromisoformat(business_date)
