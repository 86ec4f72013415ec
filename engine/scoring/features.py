"""An account's scorecard features as of a point in event time, with no look-ahead.

`FeatureState` takes the account's recorded facts one at a time, in the order
they were recorded, and answers `features(as_of)` from the facts whose
`occurred_at` is at or before `as_of` only: a fact recorded earlier but
stamped later is invisible to it. Facts are folded in event-time order
(recording order among equal times) through the engine's own `Ledger`, so
"days past due" and "outstanding" mean what they mean everywhere else in the
engine. A fact the ledger refuses at its place in event time (an overdue
report stamped before its bill, say) is skipped, which is deterministic.

The fold is kept between questions and extended by the facts added since
(one per decision in the normal case, where facts arrive in event-time
order); a fact stamped before one already folded, or an `as_of` before the
latest fact, makes `features` fold the prefix afresh.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import pairwise
from operator import itemgetter
from zoneinfo import ZoneInfo

from engine.ledger import Ledger, Rejected
from events.inbound import (
    PROMISE_TO_PAY,
    AccountEvent,
    AccountOpened,
    DayClosed,
    FactRetracted,
    NoticeOutcomeReported,
    OverdueReported,
    RepaymentReceived,
    RepaymentReversed,
)
from events.operator import ACTIONS, Fact, LockUndone

WINDOW_DAYS = 365  # "in 12 months": facts of the local days (as_of - 365 days, as_of]
PLATFORM_ZONE = ZoneInfo("Asia/Shanghai")  # where an `--as-of DATE` ends
_RATIO = Decimal("0.0001")
_EXACT = Context(prec=28, rounding=ROUND_HALF_EVEN)  # not the thread's context: scores must not depend on it


@dataclass(frozen=True, slots=True)
class Features:
    """What the scorecard sees of one account at one instant (money ratios are Decimal)."""

    days_past_due: int  # now: the largest reported days past due of the open bills
    worst_days_past_due_12m: int  # the largest reported in the window
    overdue_episodes_12m: int  # times the account went from current to overdue in the window
    utilisation: Decimal  # outstanding / the credit limit it was opened with, 4 places
    on_time_streak: int  # bills settled on time since the last overdue (the ledger's count)
    months_on_book: int  # whole months since the account was opened
    broken_plans_12m: int  # repayment plans with an installment reported overdue in the window
    reversals_12m: int  # repayments reversed in the window
    promise_kept_rate: Decimal | None  # kept / settled promises to pay, 4 places; None while none is settled

    def values(self) -> dict[str, int | Decimal | None]:
        """attribute -> value, in the attributes' order (no copying: this runs for every score)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


ATTRIBUTES: tuple[str, ...] = tuple(Features.__dataclass_fields__)


def end_of_day(day: date, zone: ZoneInfo = PLATFORM_ZONE) -> datetime:
    """The last instant of `day` in `zone`: what `--as-of DATE` means (after it: occurred_at > this)."""
    return datetime.combine(day + timedelta(days=1), time(0), zone) - timedelta(microseconds=1)


@dataclass(slots=True)
class _Promise:
    """A promise to pay (a `NoticeOutcomeReported` promise_to_pay) and the repayments toward it so far."""

    due: date  # the promised date, in the account's zone
    amount: Decimal
    paid: Decimal = Decimal(0)  # repayments after it, up to the end of its date, net of their reversals


class _Fold:
    """The facts of one account folded in event-time order, up to the latest one applied."""

    __slots__ = (
        "credited",
        "days_past_due",
        "episodes",
        "ledger",
        "opened_on",
        "plans_broken",
        "promises",
        "reports",
        "reversals",
    )

    def __init__(self, account_id: str) -> None:
        self.ledger = Ledger(account_id)
        self.opened_on: date | None = None
        # (local day, days past due) of the overdue reports that may still be the worst of a window: a report
        # is dropped once a later one reports as much or more (the window holding it holds the later one too),
        # so days past due fall as days rise, and a bill reported daily keeps one entry, not one per day.
        self.reports: list[tuple[date, int]] = []
        self.episodes: list[date] = []  # local days the account went from current to overdue
        self.reversals: list[date] = []
        self.plans_broken: dict[str, date] = {}  # plan id -> local day of its first overdue installment
        self.days_past_due = 0  # the ledger's, after the latest fact applied
        self.promises: list[_Promise] = []  # in event-time order; a newer promise replaces an open one
        self.credited: dict[str, list[_Promise]] = {}  # payment id -> the promises it counted toward

    def apply(self, fact: AccountEvent) -> None:
        ledger = self.ledger
        try:
            ledger.check(fact)
        except Rejected:
            return
        ledger.apply(fact)
        day = ledger.local_date(fact.occurred_at)
        if isinstance(fact, AccountOpened):
            self.opened_on = day
        elif isinstance(fact, OverdueReported):
            reports, days_past_due = self.reports, fact.data.days_past_due
            while reports and reports[-1][1] <= days_past_due:
                reports.pop()
            reports.append((day, days_past_due))
            plan_id = ledger.bills[fact.data.bill_id].plan_id
            if plan_id is not None:
                self.plans_broken.setdefault(plan_id, day)
        elif isinstance(fact, RepaymentReversed):
            self.reversals.append(day)
        if isinstance(fact, (NoticeOutcomeReported, RepaymentReceived, RepaymentReversed)):
            self._promises(fact, day)
        days_past_due = ledger.days_past_due
        if days_past_due > 0 and self.days_past_due == 0:
            self.episodes.append(day)
        self.days_past_due = days_past_due

    def _promises(self, fact: NoticeOutcomeReported | RepaymentReceived | RepaymentReversed, day: date) -> None:
        """Promises to pay and what was paid toward each by the end of its date (the engine's promise.kept)."""
        if isinstance(fact, NoticeOutcomeReported):
            data = fact.data
            if data.outcome != PROMISE_TO_PAY or data.promised_amount is None or data.promised_date is None:
                return
            if self.promises and self.promises[-1].due >= day:
                self.promises.pop()  # still open: replaced, neither kept nor broken
            self.promises.append(_Promise(data.promised_date, data.promised_amount))
        elif isinstance(fact, RepaymentReceived):
            toward = [promise for promise in self.promises if promise.due >= day]
            for promise in toward:
                promise.paid += fact.data.amount
            if toward:
                self.credited[fact.data.payment_id] = toward
        else:
            amount = self.ledger.payments[fact.data.payment_id].amount
            for promise in self.credited.pop(fact.data.payment_id, ()):
                if promise.due >= day:
                    promise.paid -= amount

    def promise_kept_rate(self, today: date) -> Decimal | None:
        """Kept / settled promises (those whose date has passed by `today`); None while none is settled."""
        settled = [promise for promise in self.promises if promise.due < today]
        if not settled:
            return None
        kept = sum(1 for promise in settled if promise.paid >= promise.amount)
        return _EXACT.divide(Decimal(kept), Decimal(len(settled))).quantize(_RATIO, context=_EXACT)

    def features(self, as_of: datetime) -> Features | None:
        """The features at `as_of`, which must not be before any fact folded; None before the account opened."""
        if self.opened_on is None:
            return None
        ledger = self.ledger
        today = as_of.astimezone(ledger.timezone).date()
        since = today - timedelta(days=WINDOW_DAYS)
        utilisation = _EXACT.divide(ledger.outstanding, ledger.opening_limit).quantize(_RATIO, context=_EXACT)
        return Features(
            days_past_due=self.days_past_due,
            worst_days_past_due_12m=next((dpd for day, dpd in self.reports if day > since), 0),
            overdue_episodes_12m=sum(1 for _ in _recent_days(self.episodes, since)),
            utilisation=utilisation,
            on_time_streak=ledger.on_time_streak,
            months_on_book=_whole_months(self.opened_on, today),
            broken_plans_12m=sum(1 for day in self.plans_broken.values() if day > since),
            reversals_12m=sum(1 for _ in _recent_days(self.reversals, since)),
            promise_kept_rate=self.promise_kept_rate(today),
        )


def _recent_days(days: list[date], since: date) -> Iterator[date]:
    for day in reversed(days):
        if day <= since:
            return
        yield day


def _whole_months(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(0, months)


_at = itemgetter(0)


class FeatureState:
    """An account's facts as recorded, answering features as of any instant without looking ahead."""

    __slots__ = ("_fold", "_folded", "_seq", "account_id", "facts")

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.facts: list[tuple[datetime, int, AccountEvent]] = []  # (occurred_at, recording seq, fact), sorted
        self._seq = 0
        self._fold: _Fold | None = _Fold(account_id)
        self._folded = 0  # facts[:_folded] are in _fold

    def add(self, fact: Fact) -> None:
        """Take the next recorded fact (a DayClosed or an operator's action says nothing about the account's
        behaviour: ignored; a retraction takes the retracted fact out, as the engine does)."""
        if isinstance(fact, (FactRetracted, LockUndone)):
            retracted = fact.data.retracted_event_id
            self.facts = [entry for entry in self.facts if entry[2].event_id != retracted]
            self._fold, self._folded = None, 0
            return
        if isinstance(fact, (DayClosed, *ACTIONS)):
            return
        entry = (fact.occurred_at, self._seq, fact)
        self._seq += 1
        facts = self.facts
        if not facts or fact.occurred_at >= facts[-1][0]:
            facts.append(entry)  # folded when features are next asked for
            return
        position = bisect_right(facts, (fact.occurred_at, entry[1]), key=lambda item: (item[0], item[1]))
        facts.insert(position, entry)
        if position < self._folded:
            self._fold = None  # stamped before facts already folded: fold again when asked

    def features(self, as_of: datetime) -> Features | None:
        """The features at `as_of` from the facts with occurred_at <= as_of; None if not yet opened."""
        cut = bisect_right(self.facts, as_of, key=_at)
        if cut == len(self.facts):
            return self._complete().features(as_of)
        fold = _Fold(self.account_id)
        for _, _, fact in self.facts[:cut]:
            fold.apply(fact)
        return fold.features(as_of)

    def features_at(self, instants: Sequence[datetime]) -> list[Features | None]:
        """`features(t)` for each of `instants` (ascending), folding the facts once."""
        if any(later < earlier for earlier, later in pairwise(instants)):
            raise ValueError("instants must be ascending")
        fold = _Fold(self.account_id)
        results: list[Features | None] = []
        position = 0
        for instant in instants:
            while position < len(self.facts) and self.facts[position][0] <= instant:
                fold.apply(self.facts[position][2])
                position += 1
            results.append(fold.features(instant))
        return results

    def reached(self, days_past_due: int, after: datetime, until: datetime) -> bool:
        """Whether billing reported `days_past_due` or more on any bill with after < occurred_at <= until."""
        start = bisect_right(self.facts, after, key=_at)
        for occurred_at, _, fact in self.facts[start:]:
            if occurred_at > until:
                return False
            if isinstance(fact, OverdueReported) and fact.data.days_past_due >= days_past_due:
                return True
        return False

    def _complete(self) -> _Fold:
        if self._fold is None:
            self._fold, self._folded = _Fold(self.account_id), 0
        for _, _, fact in self.facts[self._folded :]:
            self._fold.apply(fact)
        self._folded = len(self.facts)
        return self._fold


def state_of(account_id: str, facts: Iterable[Fact]) -> FeatureState:
    """A FeatureState fed with `facts` in their recording order."""
    state = FeatureState(account_id)
    for fact in facts:
        state.add(fact)
    return state
