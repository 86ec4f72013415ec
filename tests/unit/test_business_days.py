"""Business days on a recorded holiday calendar: holidays, make-up working days, years not covered."""

from __future__ import annotations

from datetime import date, timedelta
from importlib.metadata import version

import pytest

from engine.business_days import (
    FALLBACK,
    SEED_VERSION,
    CalendarError,
    add_business_days,
    cited_version,
    from_canonical,
    parse_schedule_file,
    seed_calendar,
)


@pytest.mark.parametrize(
    "start, count, expected",
    [
        (date(2026, 9, 30), 5, date(2026, 10, 13)),  # National Day Oct 1-7; Sat Oct 10 is a working day
        (date(2026, 9, 24), 5, date(2026, 10, 9)),  # Mid-Autumn Fri Sep 25, then National Day
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # Sat Feb 14 is a make-up working day before Spring Festival
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # an ordinary weekend
        (date(2026, 3, 9), 5, date(2026, 3, 16)),
    ],
)
def test_deadlines_follow_the_official_schedule(start: date, count: int, expected: date) -> None:
    deadline, source = add_business_days(start, count)
    assert deadline == expected
    assert source == SEED_VERSION


def test_a_year_the_calendar_does_not_cover_falls_back_to_weekdays_and_says_so() -> None:
    deadline, source = add_business_days(date(2030, 6, 7), 1)  # a Friday
    assert deadline == date(2030, 6, 10)
    assert source == SEED_VERSION + FALLBACK and cited_version(source) == SEED_VERSION


@pytest.mark.skipif(version("chinesecalendar") != "1.11.0", reason="the seed is the data of chinesecalendar 1.11.0")
def test_the_seed_is_the_data_of_the_package_release_it_is_named_after() -> None:
    import chinese_calendar  # noqa: PLC0415 - only this test reads the package

    seed, day = seed_calendar(), date(2004, 1, 1)
    while day.year <= 2026:
        assert seed.is_business_day(day) == (chinese_calendar.is_workday(day), True), day
        day += timedelta(days=1)
    assert not seed.covers(2027)


SPRING_2027 = """
region = "CN"
source = "a test schedule"
[years.2027]
holidays = [2027-02-05, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11]
workdays = [2027-02-06]
"""


def test_a_loaded_year_counts_its_holidays_and_make_up_days() -> None:
    _, years, source = parse_schedule_file(SPRING_2027)
    calendar = seed_calendar().with_years("CN-2", years)
    assert source == "a test schedule"
    assert calendar.add_business_days(date(2027, 2, 4), 2) == (date(2027, 2, 12), "CN-2")  # Sat Feb 6 is worked
    assert seed_calendar().add_business_days(date(2027, 2, 4), 2) == (date(2027, 2, 8), SEED_VERSION + FALLBACK)
    assert calendar.add_business_days(date(2026, 9, 30), 5) == (date(2026, 10, 13), "CN-2")  # the seed's years stay
    assert from_canonical(calendar.canonical()) == calendar


@pytest.mark.parametrize(
    "text, reason",
    [
        ("years = {}", "at least one"),
        ('region = "US"\n[years.2027]\nholidays = []', "region"),
        ("[years.2027]\nholidays = [2028-01-01]", "another year"),
        ("[years.2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-01]", "both"),
        ('[years.2027]\nholidays = ["2027-01-01"]', "YYYY-MM-DD"),
        ("[years.27]\nholidays = []", "2000 to 2199"),
        ("[years.2027]\nsurprise = []", "nothing else"),
        ("surprise = 1", "unknown setting"),
        ("years = [", "not a TOML"),
    ],
)
def test_bad_calendar_files_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(CalendarError, match=reason):
        parse_schedule_file(text)
