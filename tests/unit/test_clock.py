"""The platform clock: never backwards, never more than 31 days ahead of the latest DayClosed (contract 1.1)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from engine.clock import MAX_STEP, PlatformClock
from engine.ledger import Rejected
from events.inbound import ParsedEvent, parse_event
from tests.support.wiring import open_engine


def day_closed(business_date: str, event_id: str | None = None) -> dict[str, object]:
    return {
        "event_id": event_id or f"day-{business_date}",
        "type": "DayClosed",
        "occurred_at": f"{business_date}T23:59:00+08:00",
        "schema_version": 1,
        "data": {"business_date": business_date},
    }


def parsed(business_date: str) -> ParsedEvent:
    return parse_event(json.dumps(day_closed(business_date)))


def closed(*dates: str) -> PlatformClock:
    clock = PlatformClock()
    for business_date in dates:
        clock.close(parsed(business_date))
    return clock


def test_the_first_day_closed_is_free() -> None:
    assert str(closed("2000-01-01").business_date) == "2000-01-01"
    assert str(closed("2199-12-31").business_date) == "2199-12-31"


def test_a_step_of_exactly_31_days_is_taken() -> None:
    assert MAX_STEP.days == 31
    clock = closed("2026-01-31", "2026-03-03")  # 31 days
    assert str(clock.business_date) == "2026-03-03"


@pytest.mark.parametrize(
    "last, refused, why",
    [
        ("2026-01-31", "2026-03-04", "data.business_date: more than 31 days after the last closed date 2026-01-31"),
        ("2026-03-10", "2199-12-31", "data.business_date: more than 31 days after the last closed date 2026-03-10"),
        ("2026-03-10", "2026-03-10", "data.business_date: already closed"),
        ("2026-03-10", "2026-03-09", "data.business_date: goes backwards; last closed 2026-03-10"),
    ],
)
def test_a_larger_jump_or_a_step_back_is_rejected_and_changes_nothing(last: str, refused: str, why: str) -> None:
    clock = closed(last)
    version = clock.version
    with pytest.raises(Rejected) as caught:
        clock.close(parsed(refused))
    assert caught.value.reason == why
    assert str(clock.business_date) == last and clock.version == version
    if refused != last:
        assert refused not in caught.value.reason, "the reason never repeats the refused value"
    clock.close(parsed(str(clock.business_date + MAX_STEP)))  # the clock still moves on


def test_through_the_engine_a_jump_is_a_rejection_and_the_clock_is_not_bricked(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "store.db"))
    first, jump, next_day = day_closed("2026-03-10"), day_closed("2030-01-01"), day_closed("2026-03-11")
    results = engine.process([orjson.dumps(event) for event in (first, jump, next_day)])
    assert [r.outcome.value for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1].reason is not None and "more than 31 days after" in results[1].reason
    assert str(engine.clock().business_date) == "2026-03-11"
