"""The rules default-v2 adds (docs/policy.md): early warning, notice outcomes, the default probability.

On a pure in-memory account, as tests/unit/test_policy_rules.py does for
default-v1; the scorecard is `tiny_scorecard` (tests/builders.py), whose tier
a test steers with utilisation and reversals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib.resources import files
from typing import Any

import orjson
import pytest

from engine.audit import replay
from engine.ledger import Rejected
from engine.policy import load_policy, parse_policy
from engine.rules import agenda_date
from engine.scoring.features import end_of_day, state_of
from events.inbound import load_canonical
from events.recorded import decode
from tests.builders import DEFAULT, Events, commands, parsed, play, rules_of, run, sent, v2

V2 = v2()
FLAT = v2(notices=V2.notices.model_copy(update={"points_by_tier": {}}))  # default-v1's cadence for every tier
EARLY = V2.early_warning
assert EARLY is not None


@pytest.fixture
def e() -> Events:
    return Events()


def opened_with_bill(e: Events, amount: str = "500.00") -> list[dict[str, Any]]:
    return [e.opened(), e.bill("b1", amount, "2026-09-01")]


# ---------------------------------------------------------------- the shipped file


def test_default_v2_ships_its_scorecard_and_keeps_default_v1_rules() -> None:
    shipped = load_policy("default-v2")
    assert shipped.scorecard.version == "pd-demo-v1"
    for section in ("lock", "accumulation", "repair", "score"):
        assert getattr(shipped, section) == getattr(DEFAULT, section)
    assert shipped.notices.points == DEFAULT.notices.points
    assert DEFAULT.scoring is None and DEFAULT.early_warning is None and DEFAULT.outcomes is None


def test_a_policy_naming_an_unknown_scorecard_or_tier_is_refused_on_load() -> None:
    text = (files("engine.policies") / "default-v2.toml").read_text(encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="no scorecard 'pd-nope' is shipped"):
        parse_policy(text.replace('scorecard = "pd-demo-v1"', 'scorecard = "pd-nope"'))
    with pytest.raises(ValueError, match=r"tiers \['Z'\] are not tiers of pd-demo-v1"):
        parse_policy(text.replace("E = [1, 2,", "Z = [1, 2,"))


# ---------------------------------------------------------------- early warning: the watch list


def test_a_reversed_repayment_before_the_due_date_puts_the_account_on_the_watch_list(e: Events) -> None:
    account, decided = run(
        [
            *opened_with_bill(e),
            e.pay("p1", "500.00", "2026-08-20T10:00:00", bill_id="b1"),
            e.reverse("p1", "2026-08-21T23:30:00"),
        ],
        V2,
    )
    assert rules_of(decided[:2]) == ["account.open", "score.tier"]  # the first tier, at the first bill: no signal
    assert [d.rule for d in decided[-1]] == ["watch.start", "watch.reminder"]
    start, reminder = decided[-1]
    assert start.facts == {"signal": "reversed_repayment", "payment_id": "p1"}
    assert account.controls.watch_since is not None and account.controls.watch_reason == "reversed_repayment"
    assert reminder.command is not None
    assert (reminder.command["template"], reminder.command["channel"]) == ("due_reminder", "sms")
    assert reminder.command["deliver_at"] == "2026-08-22T08:00:00+08:00"  # quiet hours hold reminders too
    assert reminder.facts["bill_id"] == "b1" and reminder.facts["due_date"] == "2026-09-01"


def test_the_risk_tier_is_followed_at_each_bill_and_a_fall_is_a_signal(e: Events) -> None:
    events = [
        e.opened(),
        e.bill("b1", "100.00", "2026-09-01"),
        e.pay("p1", "100.00", "2026-08-20T10:00:00"),
        e.reverse("p1", "2026-08-21T10:00:00"),  # a signal of its own; the tier waits for the next bill
        e.pay("p2", "100.00", "2026-08-22T10:00:00"),  # owes nothing: the watch ends
        e.bill("b2", "100.00", "2026-10-01", "2026-09-10T09:00:00"),
    ]
    _, decided = run(events, V2)  # default-v2: a fall of two tiers or more
    assert [d.rule for d in decided[-1]] == ["score.tier"]
    one_step = V2.model_copy(update={"early_warning": EARLY.model_copy(update={"tier_fall_steps": 1})})
    account, decided = run(events, one_step)
    assert "score.tier" not in rules_of(decided[2:5]) and decided[4][-1].rule == "watch.end"
    tier, signal, _reminder = decided[-1]
    assert (tier.rule, signal.rule) == ("score.tier", "watch.start")
    assert tier.facts["previous_tier"] == "A" and tier.facts["tier"] == "B" and tier.changes == {"risk_tier": "B"}
    assert tier.facts["reasons"] == ["reversals_12m"] and tier.facts["scorecard"] == "tiny-v1"
    assert tier.facts["probability"] == "0.074074" and tier.facts["points"] == 560
    assert signal.facts["signal"] == "tier_fall" and account.controls.risk_tier == "B"


def test_the_watch_ends_when_the_account_goes_overdue_or_owes_nothing(e: Events) -> None:
    account, decided = run([*opened_with_bill(e), e.pay("p1", "200.00", "2026-08-15T10:00:00", bill_id="b1")], FLAT)
    assert [d.rule for d in decided[-1]] == ["watch.start", "watch.reminder"]
    assert decided[-1][0].facts == {"signal": "partial_payment", "payment_id": "p1", "bill_id": "b1"}
    [ended] = play(account, [e.pay("p2", "300.00", "2026-08-16T10:00:00")], FLAT)[0]
    assert ended.rule == "watch.end" and ended.facts["reason"] == "repaid"
    assert account.controls.watch_since is None
    overdue = [e.bill("b2", "500.00", "2026-10-01", "2026-09-10T09:00:00")]
    overdue += [e.pay("p3", "100.00", "2026-09-12T10:00:00"), e.overdue("b2", 1, "400.00", "2026-10-02T10:00:00")]
    decided = play(account, overdue, FLAT)
    assert decided[1][0].rule == "watch.start"
    assert decided[-1][-1].rule == "watch.end" and decided[-1][-1].facts["reason"] == "overdue"


def test_a_reminder_goes_once_per_bill(e: Events) -> None:
    account, decided = run(
        [
            *opened_with_bill(e),
            e.pay("p1", "100.00", "2026-08-15T10:00:00"),
            e.pay("p2", "100.00", "2026-08-16T10:00:00"),
            e.bill("b2", "50.00", "2026-09-20", "2026-08-20T09:00:00"),
            e.pay("p3", "10.00", "2026-08-21T10:00:00", bill_id="b2"),
        ],
        FLAT.model_copy(update={"early_warning": EARLY.model_copy(update={"open_bills": None})}),
    )
    reminders = [d.facts["bill_id"] for ds in decided for d in ds if d.rule == "watch.reminder"]
    assert reminders == ["b1", "b2"]
    assert rules_of(decided[-3:-2]) == ["watch.signal"]  # the second partial payment: watched, b1 reminded


def test_several_open_bills_and_a_rise_in_utilisation_are_signals(e: Events) -> None:
    quiet = {"reminder_template": None, "tier_fall": False}
    policy = FLAT.model_copy(update={"early_warning": EARLY.model_copy(update=quiet)})
    _, decided = run([e.opened(), e.bill("b1", "100.00", "2026-09-01"), e.bill("b2", "100.00", "2026-09-03")], policy)
    assert [(d.rule, d.facts["signal"]) for d in decided[-1]] == [("watch.start", "open_bills")]
    policy = policy.model_copy(update={"early_warning": policy.early_warning.model_copy(update={"open_bills": None})})
    e2 = Events("A2")
    _, decided = run(
        [
            e2.opened(),
            e2.bill("b1", "7000.00", "2026-09-01"),
            e2.bill("b2", "1000.00", "2026-09-03", "2026-08-11T09:00:00"),
            e2.bill("b3", "1000.00", "2026-09-04", "2026-08-12T09:00:00"),
        ],
        policy,
    )
    assert decided[1] == [] and decided[3] == []  # a rise *to* the threshold: not again while above it
    assert decided[2][0].facts == {"signal": "utilisation", "before": "0.7000", "after": "0.8000", "threshold": "0.80"}


def test_no_early_warning_while_something_is_overdue(e: Events) -> None:
    _, decided = run(
        [
            *opened_with_bill(e),
            e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00"),
            e.pay("p1", "100.00", "2026-09-03T10:00:00"),
            e.reverse("p1", "2026-09-04T10:00:00"),
        ],
        FLAT,
    )
    assert not any(r.startswith("watch.") for r in rules_of(decided))


def test_default_v1_takes_no_early_warning_decision(e: Events) -> None:
    _, decided = run(
        [*opened_with_bill(e), e.pay("p1", "500.00", "2026-08-20T10:00:00"), e.reverse("p1", "2026-08-21T10:00:00")]
    )
    assert rules_of(decided) == ["account.open"]


# ---------------------------------------------------------------- notice outcomes


def overdue_notice(e: Events, policy: Any = FLAT) -> tuple[Any, str]:
    """An account sent overdue_d1 by sms; its command id."""
    account, decided = run([*opened_with_bill(e), e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")], policy)
    [notice] = sent(decided[-1])
    return account, notice["command_id"]


def test_an_outcome_must_name_a_notice_sent_to_the_account(e: Events) -> None:
    account, command_id = overdue_notice(e)
    with pytest.raises(Rejected, match=r"^data\.command_id: names no SendNotice emitted to this account$"):
        account.handle(parsed(e.outcome("not-a-notice", "delivered", "2026-09-02T11:00:00")), FLAT)
    other = Events("A2")
    stranger, _ = run([other.opened()], FLAT)
    with pytest.raises(Rejected):
        stranger.handle(parsed(other.outcome(command_id, "delivered", "2026-09-02T11:00:00")), FLAT)
    for outcome in ("delivered", "read", "replied"):
        assert account.handle(parsed(e.outcome(command_id, outcome, "2026-09-02T11:00:00")), FLAT) == []


def test_a_failed_sms_is_resent_once_by_app_push(e: Events) -> None:
    account, command_id = overdue_notice(e)
    decided = play(
        account,
        [
            e.outcome(command_id, "failed", "2026-09-02T23:00:00"),
            e.outcome(command_id, "failed", "2026-09-03T09:00:00"),  # reported twice: still one re-send
        ],
        FLAT,
    )
    [resend] = decided[0]
    assert resend.rule == "notice.resend" and resend.facts["resend_of"] == command_id
    assert resend.command is not None
    assert (resend.command["template"], resend.command["channel"]) == ("overdue_d1", "app_push")
    assert resend.command["deliver_at"] == "2026-09-03T08:00:00+08:00"  # quiet hours
    assert decided[1] == []
    failed_push = e.outcome(resend.command["command_id"], "failed", "2026-09-03T10:00:00")
    assert play(account, [failed_push], FLAT) == [[]]  # only an sms is re-sent
    assert len(account.controls.recent_notices) == 2  # the re-send counts toward the cap


def test_a_resend_the_cap_drops_is_counted_and_not_tried_again(e: Events) -> None:
    events = [e.opened()] + [e.bill(f"b{n}", "100.00", "2026-09-01") for n in range(1, 4)]
    events += [e.overdue(f"b{n}", 1, "100.00", f"2026-09-02T09:0{n}:00") for n in range(1, 4)]
    account, decided = run(events, FLAT)
    first = sent(decided[4])[0]["command_id"]
    decided = play(
        account,
        [e.outcome(first, "failed", "2026-09-02T12:00:00"), e.outcome(first, "failed", "2026-09-02T13:00:00")],
        FLAT,
    )
    assert [d.rule for d in decided[0]] == ["notice.dropped"] and decided[0][0].facts["resend_of"] == first
    assert decided[1] == [] and account.controls.notices_dropped == 1


def test_a_kept_promise_suspends_overdue_notices_until_its_date(e: Events) -> None:
    account, command_id = overdue_notice(e)
    decided = play(
        account,
        [
            e.outcome(command_id, "promise_to_pay", "2026-09-02T12:00:00", "500.00", "2026-09-05"),
            e.overdue("b1", 3, "500.00", "2026-09-04T10:00:00"),
            e.day_closed("2026-09-04"),
            e.pay("p1", "500.00", "2026-09-05T10:00:00"),
            e.day_closed("2026-09-05"),
        ],
        FLAT,
    )
    [made] = decided[0]
    assert made.rule == "promise.made" and made.facts["template"] == "overdue_d1" and made.facts["replaces"] is None
    suspended = [d for d in decided[1] if d.rule == "notice.suspended"]
    assert len(suspended) == 1 and not sent(decided[1]) and account.controls.notices_dropped == 1
    assert suspended[0].facts["promised_date"] == "2026-09-05"
    assert decided[2] == []
    [kept] = decided[4]
    assert kept.rule == "promise.kept" and kept.facts["paid_since_promise"] == "500.00" and kept.command is None
    assert account.controls.promise_id is None and agenda_date(account.controls) is None


def test_a_broken_promise_escalates_to_operations_net_of_reversals(e: Events) -> None:
    account, command_id = overdue_notice(e)
    decided = play(
        account,
        [
            e.pay("p0", "50.00", "2026-09-02T11:00:00"),  # before the promise: does not count
            e.outcome(command_id, "promise_to_pay", "2026-09-02T12:00:00", "450.00", "2026-09-05"),
            e.pay("p1", "300.00", "2026-09-03T10:00:00"),
            e.pay("p2", "150.00", "2026-09-04T10:00:00"),
            e.reverse("p2", "2026-09-05T10:00:00"),
            e.day_closed("2026-09-05"),
        ],
        FLAT,
    )
    [broken] = decided[-1]
    assert broken.rule == "promise.broken"
    assert broken.facts["paid_since_promise"] == "300.00" and broken.facts["promised_amount"] == "450.00"
    assert broken.command is not None
    assert (broken.command["template"], broken.command["channel"]) == ("promise_broken", "ops")
    assert broken.command["deliver_at"] == "2026-09-05T23:59:00+08:00"  # ops: no quiet hours
    assert account.controls.promise_date is None


def test_a_newer_promise_replaces_an_open_one_and_the_agenda_follows_it(e: Events) -> None:
    account, command_id = overdue_notice(e)
    first = e.outcome(command_id, "promise_to_pay", "2026-09-02T12:00:00", "500.00", "2026-09-05")
    second = e.outcome(command_id, "promise_to_pay", "2026-09-03T12:00:00", "500.00", "2026-09-10")
    decided = play(account, [first, second], FLAT)
    assert decided[1][0].facts["replaces"] == first["event_id"]
    assert str(agenda_date(account.controls)) == "2026-09-10"
    assert play(account, [e.day_closed("2026-09-05")], FLAT) == [[]]
    assert [d.rule for d in play(account, [e.day_closed("2026-09-10")], FLAT)[0]] == ["promise.broken"]


def test_the_agenda_is_the_earlier_of_a_review_deadline_and_a_promise(e: Events) -> None:
    account, _ = run(
        [
            *opened_with_bill(e, "600.00"),
            e.overdue("b1", 1, "600.00", "2026-09-02T10:00:00"),
            e.plan("P", "2026-09-20T10:00:00", ("2026-10-20", "300.00"), ("2026-11-20", "300.00")),
            e.request("R", "2026-09-21T10:00:00"),
        ],
        FLAT,
    )
    command_id = next(iter(account.notices.sent))
    assert str(agenda_date(account.controls)) == "2026-09-29"  # Mid-Autumn Festival on Friday 09-25
    play(account, [e.outcome(command_id, "promise_to_pay", "2026-09-22T10:00:00", "300.00", "2026-09-24")], FLAT)
    assert str(agenda_date(account.controls)) == "2026-09-24"


def test_default_v1_records_outcomes_and_decides_nothing_on_them(e: Events) -> None:
    account, command_id = overdue_notice(e, DEFAULT)
    failed = e.outcome(command_id, "failed", "2026-09-02T12:00:00")
    promised = e.outcome(command_id, "promise_to_pay", "2026-09-02T13:00:00", "500.00", "2026-09-05")
    assert play(account, [failed, promised, e.day_closed("2026-09-05")], DEFAULT) == [[], [], []]


# ---------------------------------------------------------------- the default probability in rules


def plan_under_review(e: Events) -> list[dict[str, Any]]:
    return [
        *opened_with_bill(e, "600.00"),
        e.overdue("b1", 1, "600.00", "2026-09-02T10:00:00"),
        e.plan("P", "2026-09-20T10:00:00", ("2026-10-20", "300.00"), ("2026-11-20", "300.00")),
        e.request("R", "2026-09-21T10:00:00"),
    ]


def test_automatic_approval_only_below_the_policy_s_probability(e: Events) -> None:
    _, decided = run([*plan_under_review(e), e.pay("p1", "300.00", "2026-09-22T10:00:00", plan_id="P")], V2)
    assert commands(decided[-1]) == [("UnlockCard", "review.auto_approve")]
    approval = decided[-1][0]
    assert approval.facts["max_probability"] == "0.50"
    assert approval.facts["score"]["probability"] == "0.019608" and approval.facts["score"]["tier"] == "A"


def test_at_or_above_the_probability_the_review_waits_for_an_operator(e: Events) -> None:
    strict = V2.model_copy(
        update={"review": V2.review.model_copy(update={"auto_approve_max_probability": Decimal("0.01")})}
    )
    account, decided = run(
        [
            *plan_under_review(e),
            e.pay("p1", "300.00", "2026-09-22T10:00:00", plan_id="P"),
            e.pay("p2", "10.00", "2026-09-23T10:00:00", plan_id="P"),
            e.review("R", True, "2026-09-24T10:00:00"),
        ],
        strict,
    )
    withheld = [d for d in decided[-3] if d.rule == "review.auto_approve_withheld"]
    assert len(withheld) == 1 and not commands(decided[-3])
    assert withheld[0].facts["score"]["reasons"] == [] and withheld[0].facts["max_probability"] == "0.01"
    assert not any(d.rule.startswith("review.") for d in decided[-2])  # withheld once: it waits
    assert commands(decided[-1]) == [("UnlockCard", "review.approved")]
    assert account.controls.review_withheld == "R"


def test_the_notice_cadence_follows_the_risk_tier(e: Events) -> None:
    _, decided = run(
        [*opened_with_bill(e), *(e.overdue("b1", n, "500.00", f"2026-09-0{1 + n}T10:00:00") for n in (1, 2, 3))], V2
    )
    templates = [c["template"] for ds in decided for c in sent(ds)]
    assert templates == ["overdue_d3"]  # tier A: the first notice at 3 days past due
    notice = next(d for d in decided[-1] if d.rule == "notice.overdue")
    assert notice.facts["score"]["tier"] == "A" and notice.facts["point"] == 3
    risky = Events("A2")
    _, decided = run(
        [
            risky.opened(),
            risky.bill("b1", "6000.00", "2026-09-01"),
            risky.pay("p1", "100.00", "2026-08-20T10:00:00"),
            risky.reverse("p1", "2026-08-21T10:00:00"),
            *(risky.overdue("b1", n, "6000.00", f"2026-09-0{1 + n}T10:00:00") for n in (1, 2)),
        ],
        V2,
    )
    assert [c["template"] for c in sent(decided[-2]) + sent(decided[-1])] == ["overdue_d1", "overdue_d2"]
    assert next(d for d in decided[-1] if d.rule == "notice.overdue").facts["score"]["tier"] == "E"
    assert next(d for d in decided[-1] if d.rule == "notice.overdue").facts["score"]["reasons"] == [
        "utilisation",
        "reversals_12m",
    ]


def test_audit_replay_derives_every_scored_decision_again(e: Events) -> None:
    events = [
        *plan_under_review(e),
        e.pay("p1", "100.00", "2026-09-22T10:00:00"),
        e.reverse("p1", "2026-09-22T12:00:00"),
        e.pay("p2", "300.00", "2026-09-23T10:00:00", plan_id="P"),
    ]
    account, decided = run(events, V2)
    states = [decode(state) for _, _, _, state in account.collect()]
    result = replay(account.account_id, states, lambda version: V2)
    assert result.identical and result.derived
    assert sum(1 for ds in decided for d in ds if "score" in d.facts or "reasons" in d.facts) >= 2
    assert orjson.dumps([d.facts for ds in decided for d in ds])  # facts are plain JSON


# ---------------------------------------------------------------- the promise-kept rate the scorecard sees


def test_the_promise_kept_rate_counts_settled_promises_as_the_engine_settles_them(e: Events) -> None:
    events = [
        *opened_with_bill(e, "900.00"),
        e.outcome("n1", "promise_to_pay", "2026-09-02T12:00:00", "300.00", "2026-09-05"),
        e.outcome("n1", "promise_to_pay", "2026-09-03T12:00:00", "300.00", "2026-09-06"),  # replaces the first
        e.pay("p1", "300.00", "2026-09-06T10:00:00"),  # kept
        e.outcome("n2", "promise_to_pay", "2026-09-07T12:00:00", "300.00", "2026-09-09"),
        e.pay("p2", "300.00", "2026-09-08T10:00:00"),
        e.reverse("p2", "2026-09-09T10:00:00"),  # broken: net of the reversal
        e.pay("p3", "300.00", "2026-09-10T10:00:00"),  # too late for it
    ]
    state = state_of("A1", [load_canonical(parsed(event).canonical) for event in events])

    def rate(day: str) -> Decimal | None:
        features = state.features(end_of_day(date.fromisoformat(day)))
        assert features is not None
        return features.promise_kept_rate

    assert rate("2026-09-06") is None  # the promise of 09-06 is settled when its day has passed
    assert rate("2026-09-07") == Decimal("1.0000")
    assert rate("2026-09-10") == Decimal("0.5000")
