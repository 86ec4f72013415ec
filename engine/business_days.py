"""Business days on a holiday calendar that is recorded data, never an installed package.

The State Council publishes each year's public holidays and make-up working
days late in the year before. A `HolidayCalendar` holds the schedules of the
years it covers, under a version name that decisions cite (a review's
deadline names the calendar that computed it), so replay recomputes a
deadline with exactly the calendar it was decided with. Calendars are
recorded in the store (`fengkong calendar load`, engine.documents); the
calendar shipped with the engine, `chinesecalendar 1.11.0` (the data of that
release of the `chinesecalendar` package, 2004-2026, named as the decisions
recorded before calendars were data cite it), is only the seed.

A day of a year the calendar does not cover counts as a business day when it
is a weekday, and the decision says so (`FALLBACK`), loudly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

import orjson

REGION = "CN"
SEED_VERSION = "chinesecalendar 1.11.0"
"""The shipped calendar's version: the name decisions recorded before calendars were data cite."""
FALLBACK = " (weekdays only: year not covered)"
"""Appended to the version a decision cites when a day it counted lies in a year the calendar does not cover."""
_SEED_FILE = "chinesecalendar-1.11.0.toml"
_MAX_YEARS = 400


class CalendarError(ValueError):
    """A calendar file that cannot be used, with the reason (one line)."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: public holidays (days off) and make-up working days (weekend days worked)."""

    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass(frozen=True)
class HolidayCalendar:
    version: str
    years: Mapping[int, YearSchedule]
    region: str = REGION

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_business_day(self, day: date) -> tuple[bool, bool]:
        """(is a business day, the calendar covers its year); an uncovered year counts weekdays."""
        schedule = self.years.get(day.year)
        if schedule is None:
            return day.weekday() < 5, False
        return day in schedule.workdays or (day.weekday() < 5 and day not in schedule.holidays), True

    def add_business_days(self, start: date, count: int) -> tuple[date, str]:
        """The `count`-th business day after `start`, and the calendar citation the decision records."""
        day, seen, covered = start, 0, True
        while seen < count:
            day += timedelta(days=1)
            business, official = self.is_business_day(day)
            covered = covered and official
            seen += business
        return day, self.version if covered else self.version + FALLBACK

    def canonical(self) -> str:
        """The calendar as canonical JSON: what the store records, and what its digest is taken of."""
        return orjson.dumps(
            {
                "version": self.version,
                "region": self.region,
                "years": {
                    str(year): {
                        "holidays": sorted(d.isoformat() for d in schedule.holidays),
                        "workdays": sorted(d.isoformat() for d in schedule.workdays),
                    }
                    for year, schedule in sorted(self.years.items())
                },
            }
        ).decode()

    def with_years(self, version: str, years: Mapping[int, YearSchedule]) -> HolidayCalendar:
        """This calendar with `years` recorded (replacing the schedules it had for them), under a new version."""
        return HolidayCalendar(version, {**self.years, **years}, self.region)


def cited_version(citation: str) -> str:
    """The calendar version a decision's citation names (without the fallback note)."""
    return citation.removesuffix(FALLBACK)


def add_business_days(start: date, count: int, calendar: HolidayCalendar | None = None) -> tuple[date, str]:
    """The `count`-th business day after `start` on `calendar` (the seed when None), and its citation."""
    return (calendar or seed_calendar()).add_business_days(start, count)


def business_days_between(start: date, end: date, calendar: HolidayCalendar | None = None) -> int:
    """Business days after `start` up to and including `end` on `calendar` (the seed when None); negative if before."""
    chosen = calendar or seed_calendar()
    low, high, sign = (start, end, 1) if start <= end else (end, start, -1)
    count, day = 0, low
    while day < high:
        day += timedelta(days=1)
        count += chosen.is_business_day(day)[0]
    return sign * count


def from_canonical(text: str) -> HolidayCalendar:
    """A calendar as the store recorded it (`HolidayCalendar.canonical`)."""
    body = orjson.loads(text)
    years = {
        int(year): YearSchedule(
            frozenset(date.fromisoformat(d) for d in schedule["holidays"]),
            frozenset(date.fromisoformat(d) for d in schedule["workdays"]),
        )
        for year, schedule in body["years"].items()
    }
    return HolidayCalendar(body["version"], years, body.get("region", REGION))


def parse_schedule_file(text: str) -> tuple[str, dict[int, YearSchedule], str]:
    """(region, the years' schedules, the source note) of a calendar file (TOML, docs/audit.md).

    Each year is `[years.YYYY]` with `holidays` and `workdays` lists of dates
    of that year; a date can be neither both nor in another year.
    """
    try:
        body: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CalendarError(f"not a TOML calendar file: {error}") from None
    unknown = set(body) - {"region", "source", "years"}
    if unknown:
        raise CalendarError(f"unknown setting {sorted(unknown)[0]!r}: a calendar file has region, source and years")
    region = body.get("region", REGION)
    if region != REGION:
        raise CalendarError(f"region: only {REGION!r} is supported")
    source = body.get("source", "")
    if not isinstance(source, str):
        raise CalendarError("source: a text")
    raw_years = body.get("years")
    if not isinstance(raw_years, dict) or not raw_years:
        raise CalendarError("years: at least one [years.YYYY] table with holidays and workdays")
    if len(raw_years) > _MAX_YEARS:
        raise CalendarError(f"years: at most {_MAX_YEARS}")
    return region, dict(_year(name, schedule) for name, schedule in raw_years.items()), source


def _year(name: str, schedule: Any) -> tuple[int, YearSchedule]:
    if not (name.isdigit() and len(name) == 4 and 2000 <= int(name) <= 2199):
        raise CalendarError(f"years.{name}: a year from 2000 to 2199")
    year = int(name)
    if not isinstance(schedule, dict) or set(schedule) - {"holidays", "workdays"}:
        raise CalendarError(f"years.{name}: holidays and workdays, nothing else")
    days = {kind: _dates(name, kind, schedule.get(kind, []), year) for kind in ("holidays", "workdays")}
    if days["holidays"] & days["workdays"]:
        raise CalendarError(f"years.{name}: a date is both a holiday and a working day")
    return year, YearSchedule(frozenset(days["holidays"]), frozenset(days["workdays"]))


def _dates(name: str, kind: str, values: Any, year: int) -> set[date]:
    if not isinstance(values, list):
        raise CalendarError(f"years.{name}.{kind}: a list of dates")
    found = set()
    for value in values:
        if not isinstance(value, date) or hasattr(value, "hour"):
            raise CalendarError(f"years.{name}.{kind}: dates written YYYY-MM-DD")
        if value.year != year:
            raise CalendarError(f"years.{name}.{kind}: a date of another year")
        found.add(value)
    return found


def schedule_file(years: Mapping[int, YearSchedule], source: str) -> str:
    """A calendar file (TOML) for these years: what `fengkong calendar load` reads."""
    lines = [f"region = {orjson.dumps(REGION).decode()}", f"source = {orjson.dumps(source).decode()}", ""]
    for year, schedule in sorted(years.items()):
        lines.append(f"[years.{year}]")
        for kind, days in (("holidays", schedule.holidays), ("workdays", schedule.workdays)):
            lines.append(f"{kind} = [{', '.join(d.isoformat() for d in sorted(days))}]")
        lines.append("")
    return "\n".join(lines)


@cache
def seed_calendar() -> HolidayCalendar:
    """The calendar shipped with the engine (`SEED_VERSION`): the seed, until the store records one."""
    text = resources.files("engine.calendars").joinpath(_SEED_FILE).read_text(encoding="utf-8")
    _, years, _ = parse_schedule_file(text)
    return HolidayCalendar(SEED_VERSION, years)
