"""Each rule of the default policy (CONTRACT.md), on a pure in-memory account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.ledger import Rejected
from engine.policy import parse_policy
from tests.builders import DEFAULT, Events, commands, parsed, run


@pytest.fixture
def e() -> Events:
    return Events()


def opened_with_bill(e: Events, amount: str = "500.00") -> list[dict]:
    return [e.opened(), e.bill("b1", amount, "2026-09-01")]


# ---------------------------------------------------------------- 1. lock


def test_overdue_locks_card_and_suspends_line_once(e: Events) -> None:
    _, decided = run(
        [
            *opened_with_bill(e),
            e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00"),
            e.overdue("b1", 2, "500.00", "2026-09-03T10:00:00"),
        ]
    )
    assert commands(decided[2])[:2] == [("LockCard", "lock.overdue"), ("SuspendCreditLine", "lock.overdue")]
    assert commands(decided[3]) == []  # no repeat while locked


def test_overdue_below_the_minimum_outstanding_does_not_lock(e: Events) -> None:
    account, decided = run([*opened_with_bill(e), e.overdue("b1", 1, "0.99", "2026-09-02T10:00:00")])
    assert ("LockCard", "lock.overdue") not in commands(decided[2])
    assert not account.controls.card_locked


def test_lock_thresholds_are_policy_settings(e: Events) -> None:
    strict = DEFAULT.model_copy(update={"lock": DEFAULT.lock.model_copy(update={"min_days_past_due": 5})})
    _, decided = run([*opened_with_bill(e), e.overdue("b1", 3, "500.00", "2026-09-04T10:00:00")], strict)
    assert not any(t == "LockCard" for t, _ in commands(decided[2]))


def test_default_v1_records_no_thresholds_and_a_policy_may_opt_in(e: Events) -> None:
    events = [*opened_with_bill(e), e.overdue("b1", 3, "500.00", "2026-09-04T10:00:00")]
    _, plain = run(events)
    assert all("thresholds" not in d.facts for ds in plain for d in ds)  # default-v1's facts stay as they were
    opted = DEFAULT.model_copy(
        update={"version": "t-v2", "decisions": DEFAULT.decisions.model_copy(update={"record_thresholds": True})}
    )
    _, recorded = run(events, opted)
    lock = next(d for d in recorded[2] if d.rule == "lock.overdue")
    assert lock.facts["thresholds"] == {"lock.min_days_past_due": 1, "lock.min_overdue_outstanding": "1.00"}
    assert lock.facts["days_past_due"] == 3
    assert {k: v for k, v in lock.facts.items() if k != "thresholds"} == next(
        d.facts for d in plain[2] if d.rule == "lock.overdue"
    )
    assert all("thresholds" not in d.facts for d in recorded[1])  # a bill issued compares with nothing


# ---------------------------------------------------------------- 2. notices


def test_notices_at_each_point_once_per_bill(e: Events) -> None:
    events = [*opened_with_bill(e)]
    for day in range(1, 31):
        events.append(
            e.overdue("b1", day, "500.00", f"2026-09-{1 + day:02d}T10:00:00" if day < 30 else "2026-10-01T10:00:00")
        )
    account, decided = run(
        events, DEFAULT.model_copy(update={"notices": DEFAULT.notices.model_copy(update={"max_per_window": 10})})
    )
    templates = [d.command["template"] for ds in decided for d in ds if d.command and d.command["type"] == "SendNotice"]
    assert templates == ["overdue_d1", "overdue_d3", "overdue_d7", "overdue_d15", "overdue_d30"]


def test_notice_in_quiet_hours_is_deferred_to_eight_local(e: Events) -> None:
    _, decided = run([*opened_with_bill(e), e.overdue("b1", 1, "500.00", "2026-09-02T23:30:00")])
    notice = next(d.command for d in decided[2] if d.command and d.command["type"] == "SendNotice")
    assert notice["deliver_at"] == "2026-09-03T08:00:00+08:00"
    assert notice["occurred_at"] == "2026-09-02T23:30:00+08:00"


def test_quiet_hours_follow_the_account_time_zone(e: Events) -> None:
    # 16:30 in Shanghai is 09:30 in London (summer): not quiet there either;
    # 05:30 +08:00 is 22:30 in London the evening before: quiet, deferred to 08:00 London.
    events = [
        e.opened(timezone="Europe/London"),
        e.bill("b1", "500.00", "2026-09-01"),
        e.overdue("b1", 1, "500.00", "2026-09-03T05:30:00"),
    ]
    _, decided = run(events)
    notice = next(d.command for d in decided[2] if d.command and d.command["type"] == "SendNotice")
    assert notice["deliver_at"] == "2026-09-03T08:00:00+01:00"


def test_early_morning_notice_waits_for_eight_the_same_day(e: Events) -> None:
    _, decided = run([*opened_with_bill(e), e.overdue("b1", 1, "500.00", "2026-09-02T02:30:00")])
    notice = next(d.command for d in decided[2] if d.command and d.command["type"] == "SendNotice")
    assert notice["deliver_at"] == "2026-09-02T08:00:00+08:00"


def test_at_most_three_notices_in_seven_days_later_ones_dropped_and_counted(e: Events) -> None:
    events = [e.opened()] + [e.bill(f"b{n}", "100.00", "2026-09-01") for n in range(1, 6)]
    events += [e.overdue(f"b{n}", 1, "100.00", f"2026-09-02T09:0{n}:00") for n in range(1, 6)]
    events.append(e.overdue("b1", 3, "100.00", "2026-09-09T09:00:30"))  # three still in the window
    events.append(e.overdue("b2", 3, "100.00", "2026-09-09T09:04:00"))  # the window has moved on
    account, decided = run(events)
    sent = [d for ds in decided for d in ds if d.rule == "notice.overdue"]
    dropped = [d for ds in decided for d in ds if d.rule == "notice.dropped"]
    assert len(sent) == 4 and len(dropped) == 3
    assert account.controls.notices_dropped == 3
    assert sent[-1].command and sent[-1].command["template"] == "overdue_d3"


def test_a_report_that_skips_points_sends_only_the_latest(e: Events) -> None:
    _, decided = run([*opened_with_bill(e), e.overdue("b1", 8, "500.00", "2026-09-09T10:00:00")])
    notices = [d for d in decided[2] if d.rule == "notice.overdue"]
    assert [n.command["template"] for n in notices if n.command] == ["overdue_d7"]
    assert notices[0].facts["skipped_points"] == [1, 3]


# ---------------------------------------------------------------- 3. unlock by full repayment


def test_full_repayment_unlocks_and_restores(e: Events) -> None:
    account, decided = run(
        [
            *opened_with_bill(e),
            e.overdue("b1", 1, "505.00", "2026-09-02T10:00:00"),
            e.pay("p1", "300.00", "2026-09-03T10:00:00", bill_id="b1"),
            e.pay("p2", "205.00", "2026-09-04T10:00:00"),
        ]
    )
    assert commands(decided[3]) == []
    assert commands(decided[4]) == [
        ("UnlockCard", "unlock.full_repayment"),
        ("RestoreCreditLine", "unlock.full_repayment"),
    ]
    assert not account.controls.card_locked and not account.controls.line_suspended


def test_repayment_without_target_pays_oldest_open_amount_first(e: Events) -> None:
    account, _ = run(
        [
            e.opened(),
            e.bill("late", "100.00", "2026-09-10"),
            e.bill("early", "100.00", "2026-09-01"),
            e.pay("p1", "150.00", "2026-09-05T10:00:00"),
        ]
    )
    assert account.ledger.bills["early"].balance == 0
    assert account.ledger.bills["late"].balance == Decimal("50.00")


def test_overpayment_is_held_as_credit_and_pays_the_next_bill(e: Events) -> None:
    account, _ = run([e.opened(), e.pay("p1", "80.00", "2026-08-05T10:00:00"), e.bill("b1", "100.00", "2026-09-01")])
    assert account.ledger.bills["b1"].balance == Decimal("20.00")
    assert account.ledger.credit == 0


# ---------------------------------------------------------------- 4. unlock by plan


def locked_with_plan(e: Events) -> list[dict]:
    return [
        *opened_with_bill(e, "600.00"),
        e.overdue("b1", 1, "600.00", "2026-09-02T10:00:00"),
        e.plan("P", "2026-09-20T10:00:00", ("2026-10-20", "300.00"), ("2026-11-20", "300.00")),
    ]


def test_unlock_request_opens_review_with_business_day_deadline(e: Events) -> None:
    account, decided = run([*locked_with_plan(e), e.request("R", "2026-09-30T10:00:00")])
    review = next(d for d in decided[-1] if d.rule == "review.open")
    assert review.changes["review_deadline"] == "2026-10-13"  # National Day, make-up Saturday 10-10
    assert account.controls.card_locked


def test_operator_approval_unlocks_card_but_line_stays_suspended(e: Events) -> None:
    account, decided = run(
        [*locked_with_plan(e), e.request("R", "2026-09-21T10:00:00"), e.review("R", True, "2026-09-22T10:00:00")]
    )
    assert commands(decided[-1]) == [("UnlockCard", "review.approved")]
    assert account.controls.line_suspended and not account.controls.review_open


def test_operator_rejection_keeps_lock_and_allows_a_new_request(e: Events) -> None:
    account, decided = run(
        [
            *locked_with_plan(e),
            e.request("R", "2026-09-21T10:00:00"),
            e.review("R", False, "2026-09-22T10:00:00"),
            e.request("R2", "2026-09-23T10:00:00"),
        ]
    )
    assert commands(decided[-2]) == [] and account.controls.card_locked
    assert account.controls.review_id == "R2"


def test_first_installment_paid_in_full_approves_automatically(e: Events) -> None:
    account, decided = run(
        [
            *locked_with_plan(e),
            e.request("R", "2026-09-21T10:00:00"),
            e.pay("p1", "299.99", "2026-09-22T10:00:00", plan_id="P"),
            e.pay("p2", "0.01", "2026-09-23T10:00:00", plan_id="P"),
        ]
    )
    assert commands(decided[-2]) == []
    assert commands(decided[-1]) == [("UnlockCard", "review.auto_approve")]


def test_deadline_passed_without_decision_escalates_once(e: Events) -> None:
    account, decided = run(
        [
            *locked_with_plan(e),
            e.request("R", "2026-09-30T10:00:00"),
            e.day_closed("2026-10-12"),
            e.day_closed("2026-10-13"),
            e.day_closed("2026-10-14"),
        ]
    )
    assert commands(decided[-3]) == []
    assert commands(decided[-2]) == [("SendNotice", "review.escalate")]
    assert decided[-2][0].command["channel"] == "ops"
    assert commands(decided[-1]) == []
    assert account.controls.review_open  # escalated, still awaiting a decision


def test_unlock_request_without_plan_or_lock_is_recorded_and_ignored(e: Events) -> None:
    _, decided = run([*opened_with_bill(e), e.request("R", "2026-09-21T10:00:00")])
    assert [d.rule for d in decided[-1]] == ["review.request_ignored"]
    assert decided[-1][0].facts["reason"] == "card is not locked"


def test_review_for_unknown_request_is_ignored(e: Events) -> None:
    _, decided = run([*locked_with_plan(e), e.review("nope", True, "2026-09-22T10:00:00")])
    assert [d.rule for d in decided[-1]] == ["review.decision_ignored"]


# ---------------------------------------------------------------- 5. broken / complete plan


def test_missed_installment_relocks_and_completed_plan_restores(e: Events) -> None:
    account, decided = run(
        [
            *locked_with_plan(e),
            e.request("R", "2026-09-21T10:00:00"),
            e.review("R", True, "2026-09-22T10:00:00"),
            e.overdue("P#1", 1, "300.00", "2026-10-21T10:00:00"),
            e.pay("p1", "600.00", "2026-10-25T10:00:00", plan_id="P"),
        ]
    )
    assert ("LockCard", "lock.broken_plan") in commands(decided[-2])
    assert ("SuspendCreditLine", "lock.broken_plan") not in commands(decided[-2])
    assert commands(decided[-1]) == [("UnlockCard", "plan.complete"), ("RestoreCreditLine", "plan.complete")]
    assert account.ledger.active_plan_id is None


def test_plan_restructures_the_overdue_bills(e: Events) -> None:
    account, _ = run(locked_with_plan(e))
    assert account.ledger.bills["b1"].restructured_into == "P"
    assert account.ledger.overdue_outstanding == 0
    assert account.ledger.outstanding == Decimal("600.00")


# ---------------------------------------------------------------- 6. accumulation / 7. repair


def test_third_overdue_bill_within_a_year_halves_limit_and_flags_bureau(e: Events) -> None:
    events = [e.opened(limit="6000.00")]
    for n, month in enumerate(("01", "05", "09"), start=1):
        events += [
            e.bill(f"b{n}", "100.00", f"2026-{month}-10", at=f"2026-{month}-01T09:00:00"),
            e.overdue(f"b{n}", 1, "100.00", f"2026-{month}-11T09:00:00"),
            e.pay(f"p{n}", "100.00", f"2026-{month}-12T09:00:00"),
        ]
    account, decided = run(events)
    cuts = [d for ds in decided for d in ds if d.rule == "accumulation.limit_cut"]
    assert len(cuts) == 1 and cuts[0].command["new_limit"] == "3000.00"
    assert account.controls.bureau_flag
    assert account.controls.score < DEFAULT.score.initial


def test_overdue_bills_more_than_a_year_apart_do_not_accumulate(e: Events) -> None:
    events = [e.opened(limit="6000.00")]
    for n, year in enumerate(("2024", "2025", "2026"), start=1):
        events += [
            e.bill(f"b{n}", "100.00", f"{year}-01-10", at=f"{year}-01-01T09:00:00"),
            e.overdue(f"b{n}", 1, "100.00", f"{year}-01-11T09:00:00"),
            e.pay(f"p{n}", "100.00", f"{year}-01-12T09:00:00"),
        ]
    _, decided = run(events)
    assert not any(d.rule == "accumulation.limit_cut" for ds in decided for d in ds)


def test_six_on_time_bills_restore_the_limit_in_steps_never_above_original(e: Events) -> None:
    events = [e.opened(limit="6000.00")]
    for n, month in enumerate(("01", "02", "03"), start=1):
        events += [
            e.bill(f"b{n}", "100.00", f"2025-{month}-10", at=f"2025-{month}-01T09:00:00"),
            e.overdue(f"b{n}", 1, "100.00", f"2025-{month}-11T09:00:00"),
            e.pay(f"p{n}", "100.00", f"2025-{month}-12T09:00:00"),
        ]
    for n in range(4, 22):
        year, month = 2025 + (n + 2) // 12, (n + 2) % 12 + 1
        events += [
            e.bill(f"b{n}", "50.00", f"{year}-{month:02d}-20", at=f"{year}-{month:02d}-01T09:00:00"),
            e.pay(f"p{n}", "50.00", f"{year}-{month:02d}-15T09:00:00", bill_id=f"b{n}"),
        ]
    account, decided = run(events)
    steps = [d.command["new_limit"] for ds in decided for d in ds if d.rule == "repair.limit_step"]
    assert steps == ["4500.00", "6000.00"]
    assert account.controls.credit_limit == Decimal("6000.00")


def test_a_new_overdue_resets_the_on_time_streak(e: Events) -> None:
    account, _ = run(
        [
            e.opened(),
            e.bill("b1", "10.00", "2026-09-01"),
            e.pay("p1", "10.00", "2026-08-20T10:00:00"),
            e.bill("b2", "10.00", "2026-10-01"),
            e.overdue("b2", 1, "10.00", "2026-10-02T10:00:00"),
        ]
    )
    assert account.ledger.on_time_streak == 0


# ---------------------------------------------------------------- defined outcomes


@pytest.mark.parametrize(
    "late_event, reason",
    [
        (lambda e: e.bill("b1", "1.00", "2026-09-01"), "bill already issued"),
        (lambda e: e.overdue("zz", 1, "1.00", "2026-09-02T10:00:00"), "unknown bill"),
        (lambda e: e.reverse("nope", "2026-09-02T10:00:00"), "unknown payment"),
        (lambda e: e.opened(), "account already opened"),
    ],
)
def test_inapplicable_events_are_rejected_with_a_reason_before_any_change(e: Events, late_event, reason) -> None:
    account, _ = run(opened_with_bill(e))
    version = account.version
    with pytest.raises(Rejected, match=reason):
        account.handle(parsed(late_event(e)), DEFAULT)
    assert account.version == version


def test_reversal_reopens_what_the_payment_settled(e: Events) -> None:
    account, _ = run(
        [*opened_with_bill(e), e.pay("p1", "500.00", "2026-08-20T10:00:00"), e.reverse("p1", "2026-08-21T10:00:00")]
    )
    assert account.ledger.bills["b1"].balance == Decimal("500.00")
    assert account.ledger.on_time_streak == 0


def test_every_command_cites_rule_policy_and_cause(e: Events) -> None:
    events = [*opened_with_bill(e), e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")]
    _, decided = run(events)
    for decision in decided[-1]:
        if decision.command:
            assert decision.command["policy_version"] == "default-v1"
            assert decision.command["rule"] == decision.rule
            assert decision.command["cause_event_id"] == events[-1]["event_id"]
            assert decision.command["occurred_at"] == "2026-09-02T10:00:00+08:00"


def test_policy_file_rejects_unknown_settings() -> None:
    with pytest.raises(ValueError, match=r"Extra inputs are not permitted"):
        parse_policy('version = "x"\nsurprise = 1\n')
