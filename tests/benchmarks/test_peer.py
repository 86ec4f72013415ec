"""The benchmark peer's lock rule (benchmarks/peer.py), without Quix Streams.

The bench compares the engine with this rule running in Quix Streams; here it
runs on a dict standing in for Quix's per-key State (get/set), so the rule is
checked wherever quixstreams is not installed (it lives in .venv-peer).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.peer import lock_rule


class DictState:
    """The two methods of quixstreams.State the rule uses."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def overdue(event_id: str, bill: str, outstanding: str, days: int = 3) -> dict[str, Any]:
    data = {"bill_id": bill, "days_past_due": days, "outstanding": outstanding}
    return {"event_id": event_id, "type": "OverdueReported", "account_id": "A1", "data": data}


def repaid(event_id: str, amount: str, bill: str | None = None) -> dict[str, Any]:
    data = {"payment_id": f"p-{event_id}", "amount": amount, **({"bill_id": bill} if bill else {})}
    return {"event_id": event_id, "type": "RepaymentReceived", "account_id": "A1", "data": data}


def test_one_lock_per_episode_and_a_new_one_after_full_repayment() -> None:
    state = DictState()
    first = lock_rule(overdue("e1", "b1", "120.00"), state)
    assert first is not None and first["type"] == "LockCard" and first["cause_event_id"] == "e1"
    assert lock_rule(overdue("e2", "b1", "120.00", days=4), state) is None  # still locked: no second lock
    assert lock_rule(repaid("e3", "100.00", "b1"), state) is None
    assert state.get("locked") is True  # 20.00 still overdue
    assert lock_rule(repaid("e4", "20.00"), state) is None
    assert state.get("locked") is False and state.get("overdue") == {}
    again = lock_rule(overdue("e5", "b2", "5.00"), state)
    assert again is not None and again["cause_event_id"] == "e5"


def test_below_the_threshold_nothing_locks() -> None:
    state = DictState()
    assert lock_rule(overdue("e1", "b1", "0.99"), state) is None
    assert state.get("locked") is False
    assert lock_rule(overdue("e2", "b2", "0.01"), state) is not None  # the total reaches 1.00


@given(st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2), min_size=1, max_size=6))
def test_paying_off_every_reported_bill_always_resets_the_lock(amounts: list[Decimal]) -> None:
    state = DictState()
    for index, amount in enumerate(amounts):
        lock_rule(overdue(f"o{index}", f"b{index}", str(amount)), state)
    assert state.get("locked") is (sum(amounts) >= Decimal("1.00"))
    lock_rule(repaid("pay", str(sum(amounts))), state)
    assert state.get("locked") is False and state.get("overdue") == {}
