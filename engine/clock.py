"""The platform clock: the business dates billing has closed, in order.

DayClosed events carry no account; they are recorded once here and then
brought to the accounts whose agenda (an open review's deadline) falls due.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from eventsourcing.domain import Aggregate, event

from engine.ledger import Rejected
from events.inbound import DayClosed, ParsedEvent

CLOCK_ID = uuid.UUID("5d7b0a3e-2a43-4a7c-9c1b-8e1f0c3b6a44")
MAX_STEP = timedelta(days=31)  # a DayClosed at most this far after the latest one recorded


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
        """Record a closed business date; the clock never goes backwards, nor jumps more than 31 days.

        A date far ahead would bring every deadline and window before it due
        at once and leave the clock refusing every true date after it (contract
        1.1); the first DayClosed is free. Reasons name the last closed date,
        never the refused one.
        """
        assert isinstance(parsed.event, DayClosed)
        closing = parsed.event.data.business_date
        last = self.business_date
        if last is not None and closing == last:
            raise Rejected("data.business_date: already closed")
        if last is not None and closing < last:
            raise Rejected(f"data.business_date: goes backwards; last closed {last}")
        if last is not None and closing - last > MAX_STEP:
            raise Rejected(f"data.business_date: more than {MAX_STEP.days} days after the last closed date {last}")
        self._record(parsed.canonical, closing.isoformat())

    @event(DayRecorded)
    def _record(self, fact: str, business_date: str) -> None:
        self.business_date = date.fromisoformat(business_date)
