"""Business days on the mainland China calendar, public holidays and make-up
working days included (the `chinesecalendar` package, which follows the State
Council's yearly schedule).

The schedule of a year is published late in the year before, so the package
can lag: for a year it does not cover, weekdays count as business days and
the decision says so in its facts, where an auditor sees it.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from importlib.metadata import version

import chinese_calendar

CALENDAR_SOURCE = f"chinesecalendar {version('chinesecalendar')}"


@lru_cache(maxsize=4096)
def _china_business_day(day: date) -> tuple[bool, bool]:
    """(is a business day, the official schedule covered it)."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_business_days(start: date, count: int, calendar: str = "CN") -> tuple[date, str]:
    """The `count`-th business day after `start`, and which calendar decided it."""
    if calendar != "CN":
        raise ValueError(f"unknown calendar {calendar!r}; only 'CN' is supported")
    day, seen, covered = start, 0, True
    while seen < count:
        day += timedelta(days=1)
        business, official = _china_business_day(day)
        covered = covered and official
        seen += business
    source = CALENDAR_SOURCE if covered else f"{CALENDAR_SOURCE} (weekdays only: year not covered)"
    return day, source


def business_days_between(start: date, end: date, calendar: str = "CN") -> int:
    """Business days after `start` up to and including `end` (negative when `end` is before `start`)."""
    if calendar != "CN":
        raise ValueError(f"unknown calendar {calendar!r}; only 'CN' is supported")
    low, high, sign = (start, end, 1) if start <= end else (end, start, -1)
    count, day = 0, low
    while day < high:
        day += timedelta(days=1)
        count += _china_business_day(day)[0]
    return sign * count
