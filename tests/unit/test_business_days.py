"""Business days on the mainland China calendar: holidays and make-up working days."""

from __future__ import annotations

from datetime import date

import pytest

from engine.business_days import add_business_days


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
    assert source.startswith("chinesecalendar") and "weekdays only" not in source


def test_a_year_the_package_does_not_cover_falls_back_to_weekdays_and_says_so() -> None:
    deadline, source = add_business_days(date(2030, 6, 7), 1)  # a Friday
    assert deadline == date(2030, 6, 10)
    assert "weekdays only" in source


def test_unknown_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown calendar"):
        add_business_days(date(2026, 1, 1), 1, "US")
