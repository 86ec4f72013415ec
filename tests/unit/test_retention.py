"""Who the retention sweep forgets: the period counted in days back from the business date, every account closed."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from adapters.privacy.retention import Account, Closings, Customer, customers, plan
from engine.policy import RetentionRule
from events.personal import FORGOTTEN_TOKEN, token

ZONE = ZoneInfo("Asia/Shanghai")
KEY_A, KEY_B = "a" * 16, "b" * 16


def test_due_only_when_the_latest_closing_lies_more_than_the_period_before_the_business_date() -> None:
    rule, today = RetentionRule(forget_after_days=30), date(2026, 3, 1)
    on_the_day = Customer("1" * 16, closed_on=date(2026, 1, 30))  # exactly 30 days before: kept
    a_day_more = Customer("2" * 16, closed_on=date(2026, 1, 29))
    still_open = Customer("3" * 16, open=1, closed_on=date(2020, 1, 1))
    planned = plan([on_the_day, a_day_more, still_open], today, rule)
    assert planned.before == date(2026, 1, 30)
    assert [c.key_id for c in planned.due] == ["2" * 16]
    assert (planned.open, planned.recent) == (1, 1)


def test_accounts_group_by_key_a_plain_one_through_its_lookup_and_the_latest_closing_counts() -> None:
    closings = Closings()
    closings.accounts = {
        "A1": Account(token(KEY_A, "x"), ZONE, date(2026, 1, 5)),
        "A2": Account(token(KEY_A, "y"), ZONE, date(2026, 2, 5)),
        "A0": Account("CUST-A", ZONE, date(2025, 1, 1)),  # recorded before sealing: the same customer
        "B1": Account(token(KEY_B, "z"), ZONE, date(2026, 1, 5)),
        "B0": Account("CUST-B", ZONE),  # before sealing, still open
        "N1": Account("CUST-N", ZONE, date(2020, 1, 1)),  # before sealing, no key: nothing to forget
        "F1": Account(FORGOTTEN_TOKEN, ZONE, date(2020, 1, 1)),  # opened after a forget: no key
    }
    lookups = {"CUST-A": KEY_A, "CUST-B": KEY_B}
    found = {c.key_id: c for c in customers(closings, lookups.get)}
    assert set(found) == {KEY_A, KEY_B}
    a, b = found[KEY_A], found[KEY_B]
    assert (a.sealed, a.plain, a.open, a.closed_on) == (["A1", "A2"], ["A0"], 0, date(2026, 2, 5))
    assert a.holdings().accounts == ["A0", "A1", "A2"]
    assert (b.open, plan([a, b], date(2026, 12, 31), RetentionRule(forget_after_days=30)).open) == (1, 1)
