"""The capacity plan's demand figures (benchmarks.demand): per account per day, complete days only."""

from __future__ import annotations

from typing import Any

import orjson

from benchmarks.demand import demand


def _line(kind: str, at: str, **data: Any) -> bytes:
    return orjson.dumps({"type": kind, "occurred_at": at, "data": data})


def test_rates_are_per_account_per_day_over_complete_days_and_bills_overdue_are_a_share_of_older_bills() -> None:
    lines = [
        _line("BillIssued", "2026-05-01T06:00:00+08:00", bill_id="b1"),
        _line("BillIssued", "2026-05-01T07:00:00+08:00", bill_id="b2"),
        _line("OverdueReported", "2026-05-02T02:30:00+08:00", bill_id="b1"),
        _line("OverdueReported", "2026-05-03T02:30:00+08:00", bill_id="b1"),
        _line("RepaymentReceived", "2026-05-03T10:00:00+08:00", payment_id="p1"),
        _line("OverdueReported", "2026-05-04T02:30:00+08:00", bill_id="b1"),  # the last day: cut, left out
    ]
    result = demand(lines, accounts=2, days=2)
    assert result["days"] == ["2026-05-02", "2026-05-03"]
    assert result["per_account_day"] == {"OverdueReported": 0.5, "RepaymentReceived": 0.25}
    assert result["total_per_account_day"] == 0.75
    assert result["by_hour_per_account_day"] == {2: 0.5, 10: 0.25}
    assert result["bills_ever_overdue"] == 0.5
