"""No look-ahead: an account's features at time T are unchanged by any event after T.

Hypothesis draws an account's history (bills, repayments, overdue reports,
reversals, plans, in any recording order, times included), an instant T and
extra events stamped after T; the extra events are recorded at random places
of the history (before earlier facts too: recording order is not event time).
The features at T must equal those of the history alone, and the incremental
fold, a fresh fold and the one-pass `features_at` must agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.scoring.features import FeatureState, state_of
from events.inbound import AccountEvent, DayClosed, parse_event

CST = timezone(timedelta(hours=8))
START = datetime(2026, 1, 1, 9, tzinfo=CST)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def steps(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """One fact's type and data; ids come from small pools so facts refer to each other."""
    bill = draw(st.sampled_from(["b1", "b2", "b3", "p1#1", "p1#2", "p2#1"]))
    amount = f"{draw(st.integers(1, 4000))}.{draw(st.integers(0, 99)):02d}"
    kinds = ["bill", "bill", "pay", "pay", "overdue", "overdue", "overdue", "reverse", "plan", "day", "promise"]
    kind = draw(st.sampled_from(kinds))
    if kind == "bill":
        due = (START + timedelta(days=draw(st.integers(0, 400)))).date().isoformat()
        return "BillIssued", {"bill_id": bill.split("#")[0], "amount": amount, "due_date": due}
    if kind == "pay":
        target = draw(st.sampled_from([{}, {"bill_id": bill.split("#")[0]}, {"plan_id": "p1"}]))
        return "RepaymentReceived", {"payment_id": f"pay{draw(st.integers(1, 4))}", "amount": amount, **target}
    if kind == "overdue":
        days = draw(st.integers(1, 120))
        return "OverdueReported", {"bill_id": bill, "days_past_due": days, "outstanding": amount}
    if kind == "promise":  # promises to pay: the promise-kept rate
        promised = (START + timedelta(days=draw(st.integers(0, 400)))).date().isoformat()
        data = {"command_id": "n1", "outcome": "promise_to_pay", "promised_amount": amount, "promised_date": promised}
        return "NoticeOutcomeReported", data
    if kind == "reverse":
        return "RepaymentReversed", {"payment_id": f"pay{draw(st.integers(1, 4))}", "reason": "bounced"}
    if kind == "plan":
        plan = draw(st.sampled_from(["p1", "p2"]))
        n = draw(st.integers(1, 3))
        due = [(START + timedelta(days=draw(st.integers(0, 500)))).date().isoformat() for _ in range(n)]
        return "RepaymentPlanAgreed", {
            "plan_id": plan,
            "installments": [{"due_date": d, "amount": amount} for d in due],
        }
    return "DayClosed", {"business_date": (START + timedelta(days=draw(st.integers(0, 500)))).date().isoformat()}


def event(n: int, kind: str, data: dict[str, Any], at: datetime) -> AccountEvent | DayClosed:
    body: dict[str, Any] = {
        "event_id": f"e{n}",
        "type": kind,
        "occurred_at": at.isoformat(),
        "schema_version": 1,
        "data": data,
    }
    if kind != "DayClosed":
        body["account_id"] = "A1"
    return parse_event(orjson.dumps(body)).event


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[AccountEvent | DayClosed], datetime, list[AccountEvent | DayClosed]]:
    """(history in recording order, T, extra events stamped after T).

    Facts are mostly recorded in event-time order (gaps up to 20 days), some
    shuffled; T falls anywhere from before the account opened to after its last fact.
    """
    opened = event(0, "AccountOpened", {"customer_id": "c", "credit_limit": "9000.00", "card_ref": "t"}, START)
    body = draw(st.lists(st.tuples(steps(), st.integers(0, 20 * 24 * 60)), min_size=6, max_size=40))
    history: list[AccountEvent | DayClosed] = [opened]
    at = START
    for i, ((kind, data), gap) in enumerate(body, start=1):
        at += timedelta(minutes=gap)
        history.append(event(i, kind, data, at))
    for _ in range(draw(st.integers(0, 3))):  # some facts recorded out of event-time order
        i, j = draw(st.integers(0, len(history) - 1)), draw(st.integers(0, len(history) - 1))
        history[i], history[j] = history[j], history[i]
    span = int((at - START).total_seconds() // 60) + 60 * 24 * 60
    as_of = START + timedelta(minutes=draw(st.integers(-60, span)), microseconds=draw(st.integers(0, 999_999)))
    extra = draw(st.lists(st.tuples(steps(), st.integers(1, 200 * 24 * 60)), max_size=25))
    later = [
        event(1000 + i, kind, data, as_of + timedelta(minutes=after)) for i, ((kind, data), after) in enumerate(extra)
    ]
    return history, as_of, later


def fed(history: list[AccountEvent | DayClosed]) -> FeatureState:
    return state_of("A1", history)


@SETTINGS
@given(histories(), st.data())
def test_a_feature_at_t_is_unchanged_by_any_event_after_t(
    drawn: tuple[list[AccountEvent | DayClosed], datetime, list[AccountEvent | DayClosed]], data: st.DataObject
) -> None:
    history, as_of, later = drawn
    recorded = list(history)
    for fact in later:  # each later fact recorded at any place, before earlier ones too
        recorded.insert(data.draw(st.integers(0, len(recorded))), fact)
    before = fed(history).features(as_of)
    after = fed(recorded).features(as_of)
    assert after == before
    # and the same with the facts appended after the history, folded incrementally as they came
    state = fed(history)
    expected = state.features(as_of)
    for fact in later:
        state.add(fact)
    assert state.features(as_of) == expected


@SETTINGS
@given(histories())
def test_incremental_fresh_and_one_pass_folds_agree(
    drawn: tuple[list[AccountEvent | DayClosed], datetime, list[AccountEvent | DayClosed]],
) -> None:
    """The kept fold (extended fact by fact, refolded after an out-of-order fact) answers as a fresh one."""
    history, as_of, later = drawn
    recorded = history + later
    incremental = FeatureState("A1")
    for count, fact in enumerate(recorded, start=1):
        incremental.add(fact)
        at = fact.occurred_at  # what a decision on this fact would ask
        assert incremental.features(at) == fed(recorded[:count]).features(at)
    instants = sorted({as_of, *(f.occurred_at for f in recorded)})
    one_pass = fed(recorded).features_at(instants)
    for instant, features in zip(instants, one_pass, strict=True):
        assert incremental.features(instant) == features
