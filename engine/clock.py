"""The platform clock: the business dates billing has closed, in order.

DayClosed events carry no account; they are recorded once here (stream
`$clock`) and then brought to the accounts whose agenda (an open review's
deadline) falls due. An admin corrects a clock set wrongly ahead with a
recorded action (`ClockCorrected`, topic `clock.action`): the clock goes
back to the true date and the next DayClosed continues from there.
"""

from __future__ import annotations

from datetime import date, timedelta

from engine.account import StoredRow
from engine.ledger import Rejected
from events.inbound import DayClosed, ParsedEvent, load_object
from events.operator import ClockCorrected
from events.recorded import CLOCK_ACTION_TOPIC, CLOCK_STREAM, DAY_TOPIC, State, encode_day

MAX_STEP = timedelta(days=31)  # a DayClosed at most this far after the latest one recorded


class PlatformClock:
    __slots__ = ("business_date", "pending", "version")

    def __init__(self) -> None:
        self.business_date: date | None = None
        self.version = 0
        self.pending: list[StoredRow] = []

    def replay(self, state: State) -> None:
        fact = load_object(state["fact"])
        assert isinstance(fact, (DayClosed, ClockCorrected))
        self.business_date = fact.data.business_date
        self.version += 1

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
        self.business_date = closing
        self.version += 1
        self.pending.append((CLOCK_STREAM, self.version, DAY_TOPIC, encode_day(parsed.canonical)))

    def correct(self, parsed: ParsedEvent) -> None:
        """An admin sets a clock that was closed too far ahead back to the true business date."""
        assert isinstance(parsed.event, ClockCorrected)
        true_date = parsed.event.data.business_date
        last = self.business_date
        if last is None:
            raise Rejected("data.business_date: no business date closed yet: nothing to correct")
        if true_date >= last:
            raise Rejected(f"data.business_date: must be before the last closed date {last} (a later one: DayClosed)")
        self.business_date = true_date
        self.version += 1
        self.pending.append((CLOCK_STREAM, self.version, CLOCK_ACTION_TOPIC, encode_day(parsed.canonical)))

    def collect(self) -> list[StoredRow]:
        rows, self.pending = self.pending, []
        return rows
