"""The policy's rules: from a fact and the account's state to decisions.

Pure functions, no I/O and no clock: the time of every decision is the
event's time, and business days come from the recorded holiday calendar
passed in (engine.business_days), which the decision cites. Each decision names its rule, the facts it saw, the control
fields it sets and at most one command, whose id derives from the account,
the triggering event, the rule, the command type and the policy version.
Rule ids are documented in docs/policy.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

from engine.business_days import HolidayCalendar, seed_calendar
from engine.contact import score_facts, send_notice
from engine.controls import Controls, encode
from engine.ledger import Bill, Ledger
from engine.notices import NoticeBook
from engine.outcomes import on_outcome, promise_due, promise_holds, suspend
from engine.policy import Policy
from engine.scoring.features import FeatureState
from engine.scoring.scorecard import Score
from engine.thresholds import thresholds
from engine.watch import early_warning
from events.commands import CommandType, command_id, command_json
from events.inbound import (
    AccountClosed,
    AccountOpened,
    BillIssued,
    DayClosed,
    NoticeOutcomeReported,
    OverdueReported,
    RepaymentPlanAgreed,
    RepaymentReceived,
    UnlockRequested,
    UnlockReviewed,
)
from events.operator import ACTIONS, Fact, HoldDropped, HoldReleased, ReviewDecided
from events.personal import is_sealed
from events.rules import Rule

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Decision:
    rule: str
    facts: dict[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)
    command: dict[str, Any] | None = None
    brake: dict[str, Any] | None = None  # the brake's verdict on an automatic lock (engine.brake)
    whole: bool = False  # the command keeps its own envelope: a released hold's (events.recorded)


class Before(NamedTuple):
    """The few ledger figures that rules compare before and after a fact (a tuple: built for every fact)."""

    bill_max_days_past_due: int
    on_time_streak: int
    plan_id: str | None
    outstanding: Decimal | None = None  # before a BillIssued only (early warning: utilisation rising)

    @classmethod
    def capture(cls, ledger: Ledger, event: Fact) -> Before:
        bill = ledger.bills.get(event.data.bill_id) if isinstance(event, OverdueReported) else None
        outstanding = ledger.outstanding if isinstance(event, BillIssued) else None
        return cls(bill.max_days_past_due if bill else 0, ledger.on_time_streak, ledger.active_plan_id, outstanding)


def admit(ledger: Ledger, fact: Fact) -> Before | None:
    """Check `fact` and apply it to `ledger`; the figures rules compare, or None for a stale DayClosed.

    Raises engine.ledger.Rejected, before anything changes, if the account
    cannot take the fact. Shared by CreditAccount.handle(), audit replay and re-derivation.
    """
    if isinstance(fact, DayClosed):
        if ledger.last_closed is not None and fact.data.business_date <= ledger.last_closed:
            return None
    else:
        ledger.check(fact)
    before = Before.capture(ledger, fact)
    ledger.apply(fact)
    return before


class Decider:
    """Collects decisions, applying each one's changes before the next rule looks."""

    def __init__(
        self,
        account_id: str,
        event: Fact,
        controls: Controls,
        policy: Policy,
        calendar: HolidayCalendar,
        features: FeatureState | None = None,
    ) -> None:
        self.account_id = account_id
        self.event = event
        self.controls = controls
        self.policy = policy
        self.calendar = calendar
        self.features = features
        self.decisions: list[Decision] = []
        self._score: Score | None = None

    def score(self) -> Score:
        """The default probability as of the event, by the policy's scorecard (computed once per event)."""
        if self._score is None:
            if self.features is None:
                raise LookupError(f"policy {self.policy.version} scores accounts: decide() needs their features")
            features = self.features.features(self.event.occurred_at)
            if features is None:
                raise LookupError(f"account {self.account_id} has no features before it was opened")
            self._score = self.policy.scorecard.score(features)
        return self._score

    def emit(
        self,
        rule: Rule,
        facts: dict[str, Any],
        changes: dict[str, Any] | None = None,
        command: CommandType | None = None,
        **command_fields: Any,
    ) -> None:
        encoded = {name: encode(value) for name, value in (changes or {}).items()}
        rule_id = rule.value  # recorded as its text: stored decisions read the same whatever the enum
        if self.policy.decisions.record_thresholds and (compared := thresholds(rule_id, self.policy)):
            facts = {**facts, "thresholds": compared}
        payload = None
        if command is not None:
            event_id, version = self.event.event_id, self.policy.version
            payload = command_json(
                command,
                command_id=command_id(self.account_id, event_id, rule_id, command.value, version),
                account_id=self.account_id,
                policy_version=version,
                rule=rule_id,
                cause_event_id=event_id,
                occurred_at=self.event.occurred_at,
                **command_fields,
            )
        self.decisions.append(Decision(rule_id, facts, encoded, payload))
        self.controls = self.controls.changed(encoded)

    def emit_whole(self, rule: Rule, facts: dict[str, Any], changes: dict[str, Any], command: dict[str, Any]) -> None:
        """A decision emitting a command decided earlier, as it was decided (a released hold's)."""
        encoded = {name: encode(value) for name, value in changes.items()}
        self.decisions.append(Decision(rule.value, facts, encoded, command, whole=True))
        self.controls = self.controls.changed(encoded)


def decide(
    event: Fact,
    before: Before,
    ledger: Ledger,
    controls: Controls,
    policy: Policy,
    calendar: HolidayCalendar | None = None,
    features: FeatureState | None = None,
    notices: NoticeBook | None = None,
) -> list[Decision]:
    """All decisions the policy takes on `event`, which `ledger` (and `features`) already reflect.

    `calendar` counts business days (the shipped seed when None: tests and tools).
    `features` (the account's facts as of any instant, engine.scoring) are read
    only by a policy that scores accounts; `notices` (what the account was sent,
    engine.notices) only on a notice outcome.
    """
    d = Decider(ledger.account_id, event, controls, policy, calendar or seed_calendar(), features)
    if isinstance(event, AccountOpened):
        d.emit(
            Rule.ACCOUNT_OPEN,
            {"credit_limit": str(event.data.credit_limit)},
            {"credit_limit": event.data.credit_limit, "score": policy.score.initial},
        )
    elif isinstance(event, OverdueReported):
        _on_overdue(d, event, before, ledger)
    elif isinstance(event, (BillIssued, RepaymentReceived, RepaymentPlanAgreed)):
        _on_money_moved(d, event, before, ledger)
    elif isinstance(event, UnlockRequested):
        _on_unlock_request(d, event, ledger)
    elif isinstance(event, (UnlockReviewed, ReviewDecided)):
        _on_review(d, event)
    elif isinstance(event, DayClosed):
        _on_day_closed(d, event, ledger)
    elif isinstance(event, AccountClosed):
        _on_closed(d, event)
    elif isinstance(event, HoldReleased):
        _on_release(d, event)
    elif isinstance(event, HoldDropped):
        _on_drop(d, event)
    elif isinstance(event, NoticeOutcomeReported):
        on_outcome(d, event, ledger, notices or NoticeBook())
    if not isinstance(event, (DayClosed, AccountClosed, *ACTIONS)):
        early_warning(d, event, ledger, before.outstanding)
    return d.decisions


# ---------------------------------------------------------------- overdue


def _on_overdue(d: Decider, event: OverdueReported, before: Before, ledger: Ledger) -> None:
    policy, bill = d.policy, ledger.bills[event.data.bill_id]
    newly_overdue = before.bill_max_days_past_due == 0
    outstanding = ledger.overdue_outstanding
    if event.data.days_past_due >= policy.lock.min_days_past_due and outstanding >= policy.lock.min_overdue_outstanding:
        rule = Rule.LOCK_BROKEN_PLAN if bill.plan_id else Rule.LOCK_OVERDUE
        facts = {
            "bill_id": bill.bill_id,
            "days_past_due": event.data.days_past_due,
            "overdue_outstanding": str(outstanding),
            "min_overdue_outstanding": str(policy.lock.min_overdue_outstanding),
        }
        if d.controls.held is None:  # a held lock: rules 1 and 5 do not fire again (contract rule 8)
            if not d.controls.card_locked:
                d.emit(rule, facts, {"card_locked": True}, CommandType.LOCK_CARD)
            if not d.controls.line_suspended:
                d.emit(rule, facts, {"line_suspended": True}, CommandType.SUSPEND_CREDIT_LINE)
    if newly_overdue:
        d.emit(
            Rule.SCORE_OVERDUE,
            {"bill_id": bill.bill_id, "penalty": policy.score.overdue_penalty},
            {"score": policy.score.clamp(d.controls.score - policy.score.overdue_penalty)},
        )
        if bill.plan_id is None:
            _accumulate(d, ledger, ledger.local_date(event.occurred_at))
    _notice(d, bill, before.bill_max_days_past_due, ledger)


def _accumulate(d: Decider, ledger: Ledger, today: date) -> None:
    rule = d.policy.accumulation
    since = today - timedelta(days=rule.window_days)
    count = sum(1 for start in ledger.overdue_starts if since < start <= today)
    if count != rule.overdue_bills:
        return
    new_limit = (d.controls.credit_limit * rule.limit_factor).quantize(CENT, ROUND_DOWN)
    facts = {
        "overdue_bills_in_window": count,
        "window_days": rule.window_days,
        "previous_limit": str(d.controls.credit_limit),
        "limit_factor": str(rule.limit_factor),
    }
    penalty = d.policy.score.accumulation_penalty
    d.emit(
        Rule.ACCUMULATION_LIMIT_CUT,
        facts,
        {
            "credit_limit": new_limit,
            "bureau_flag": True,
            "score": d.policy.score.clamp(d.controls.score - penalty),
        },
        CommandType.ADJUST_CREDIT_LIMIT,
        new_limit=str(new_limit),
    )


def _notice(d: Decider, bill: Bill, previous_max: int, ledger: Ledger) -> None:
    rule = d.policy.notices
    tier: str | None = None
    if rule.points_by_tier:  # the cadence follows the risk tier: score only when some tier's point is reached
        if not any(previous_max < p <= bill.max_days_past_due for p in rule.any_points):
            return
        tier = d.score().tier
    reached = [p for p in rule.points_for(tier) if previous_max < p <= bill.max_days_past_due]
    if not reached:
        return
    point = reached[-1]
    local = d.event.occurred_at.astimezone(ledger.timezone)
    facts: dict[str, Any] = {"bill_id": bill.bill_id, "point": point, "skipped_points": reached[:-1]}
    if tier is not None:
        facts["score"] = score_facts(d)
    if promise_holds(d, local.date()):
        suspend(d, facts)
        return
    send_notice(d, Rule.NOTICE_OVERDUE, facts, rule.template.format(point=point), rule.channel, local)


# ---------------------------------------------------------------- money in


def _on_money_moved(
    d: Decider, event: BillIssued | RepaymentReceived | RepaymentPlanAgreed, before: Before, ledger: Ledger
) -> None:
    plan_id = before.plan_id
    if isinstance(event, RepaymentPlanAgreed):
        plan_id = event.data.plan_id
    if plan_id is not None:
        plan = ledger.plans[plan_id]
        _auto_approve(d, ledger, plan_id)
        if ledger.plan_complete(plan):
            facts = {"plan_id": plan_id, "installments": len(plan.installment_ids)}
            if d.controls.card_locked:
                d.emit(Rule.PLAN_COMPLETE, facts, {"card_locked": False}, CommandType.UNLOCK_CARD)
            if d.controls.line_suspended:
                d.emit(Rule.PLAN_COMPLETE, facts, {"line_suspended": False}, CommandType.RESTORE_CREDIT_LINE)
            if d.controls.review_open:
                d.emit(Rule.REVIEW_CLOSED_BY_PLAN, facts, review_closed())
            _drop_paid_off_hold(d, facts)
    if isinstance(event, RepaymentReceived) and ledger.active_plan_id is None and ledger.overdue_outstanding == 0:
        facts = {"payment_id": event.data.payment_id, "overdue_outstanding": "0.00"}
        if d.controls.card_locked:
            d.emit(Rule.UNLOCK_FULL_REPAYMENT, facts, {"card_locked": False}, CommandType.UNLOCK_CARD)
        if d.controls.line_suspended:
            d.emit(Rule.UNLOCK_FULL_REPAYMENT, facts, {"line_suspended": False}, CommandType.RESTORE_CREDIT_LINE)
        _drop_paid_off_hold(d, facts)
    _repair(d, before, ledger)


def _drop_paid_off_hold(d: Decider, facts: dict[str, Any]) -> None:
    """A held lock of an account whose overdue is paid off is dropped, emitting nothing: the card was never locked."""
    if d.controls.held is not None:
        d.emit(Rule.BRAKE_AUTO_DROP, {**facts, "hold_id": d.controls.held["id"]}, {"held": None})


def _repair(d: Decider, before: Before, ledger: Ledger) -> None:
    rule, original = d.policy.repair, ledger.original_limit
    steps = ledger.on_time_streak // rule.on_time_bills - before.on_time_streak // rule.on_time_bills
    if steps <= 0 or d.controls.credit_limit >= original:
        return
    step = (original * rule.limit_step).quantize(CENT, ROUND_DOWN)
    new_limit = min(original, d.controls.credit_limit + step * steps)
    score = d.policy.score.clamp(d.controls.score + d.policy.score.repair_step * steps)
    facts = {
        "on_time_streak": ledger.on_time_streak,
        "previous_limit": str(d.controls.credit_limit),
        "original_limit": str(original),
        "step": str(step),
    }
    d.emit(
        Rule.REPAIR_LIMIT_STEP,
        facts,
        {"credit_limit": new_limit, "score": score},
        CommandType.ADJUST_CREDIT_LIMIT,
        new_limit=str(new_limit),
    )


# ---------------------------------------------------------------- unlock path


def review_closed() -> dict[str, Any]:
    return {"review_id": None, "review_deadline": None, "review_escalated": False}


def _auto_approve(d: Decider, ledger: Ledger, plan_id: str) -> None:
    """First installment paid in full approves an open review automatically (below a default probability,
    if the policy sets one: at or above it the review waits for an operator)."""
    if not (d.controls.review_open and d.policy.review.auto_approve_on_first_installment):
        return
    first = ledger.bills[ledger.plans[plan_id].installment_ids[0]]
    if first.balance != 0:
        return
    facts: dict[str, Any] = {"request_id": d.controls.review_id, "plan_id": plan_id, "first_installment": first.bill_id}
    limit = d.policy.review.auto_approve_max_probability
    if limit is not None:
        if d.controls.review_withheld == d.controls.review_id:
            return  # withheld once: the review waits for an operator
        facts.update(max_probability=str(limit), score=score_facts(d))
        if d.score().probability >= limit:
            d.emit(Rule.REVIEW_AUTO_APPROVE_WITHHELD, facts, {"review_withheld": d.controls.review_id})
            return
    if d.controls.card_locked:
        d.emit(Rule.REVIEW_AUTO_APPROVE, facts, {**review_closed(), "card_locked": False}, CommandType.UNLOCK_CARD)
    else:
        d.emit(Rule.REVIEW_AUTO_APPROVE, facts, review_closed())


def _on_unlock_request(d: Decider, event: UnlockRequested, ledger: Ledger) -> None:
    request_id = event.data.request_id
    reason = None
    if not d.controls.card_locked:
        reason = "card is not locked"
    elif ledger.active_plan_id is None:
        reason = "no active repayment plan: a plan must be agreed before unlock"
    elif d.controls.review_open:
        reason = f"review {d.controls.review_id} is already open"
    if reason is not None:
        d.emit(Rule.REVIEW_REQUEST_IGNORED, {"request_id": request_id, "reason": reason})
        return
    requested_on = ledger.local_date(event.occurred_at)
    rule = d.policy.review
    deadline, calendar = d.calendar.add_business_days(requested_on, rule.business_days)
    d.emit(
        Rule.REVIEW_OPEN,
        {
            "request_id": request_id,
            "plan_id": ledger.active_plan_id,
            "requested_on": requested_on.isoformat(),
            "business_days": rule.business_days,
            "calendar": calendar,
        },
        {"review_id": request_id, "review_deadline": deadline, "review_escalated": False},
    )
    _auto_approve(d, ledger, ledger.active_plan_id)  # type: ignore[arg-type]


def _on_review(d: Decider, event: UnlockReviewed | ReviewDecided) -> None:
    """An unlock review's decision: upstream's `UnlockReviewed`, or an operator's `ReviewDecided` alike."""
    data = event.data
    reviewer = event.data.reviewer if isinstance(event, UnlockReviewed) else event.data.actor
    facts: dict[str, Any] = {"request_id": data.request_id}
    if not is_sealed(reviewer):
        # A review recorded before personal data was sealed kept its reviewer here (the golden store's
        # decisions replay so), and an operator's name is no customer's; a sealed one leaves it in the
        # fact alone: no decision holds a personal value.
        facts["reviewer"] = reviewer
    if d.controls.review_id != data.request_id:
        facts["reason"] = "no open review with this request_id"
        d.emit(Rule.REVIEW_DECISION_IGNORED, facts)
    elif not data.approved:
        d.emit(Rule.REVIEW_REJECTED, facts, review_closed())
    elif d.controls.card_locked:
        d.emit(Rule.REVIEW_APPROVED, facts, {**review_closed(), "card_locked": False}, CommandType.UNLOCK_CARD)
    else:
        d.emit(Rule.REVIEW_APPROVED, facts, review_closed())


def _on_day_closed(d: Decider, event: DayClosed, ledger: Ledger) -> None:
    _review_due(d, event)
    promise_due(d, event, ledger)


def _review_due(d: Decider, event: DayClosed) -> None:
    deadline = d.controls.review_deadline
    if not d.controls.review_open or d.controls.review_escalated or deadline is None:
        return
    if event.data.business_date < deadline:
        return
    rule = d.policy.review
    d.emit(
        Rule.REVIEW_ESCALATE,
        {
            "request_id": d.controls.review_id,
            "deadline": deadline.isoformat(),
            "business_date": event.data.business_date.isoformat(),
        },
        {"review_escalated": True},
        CommandType.SEND_NOTICE,
        template=rule.escalation_template,
        channel=rule.escalation_channel,
        deliver_at=event.occurred_at,
    )


def _on_closed(d: Decider, event: AccountClosed) -> None:
    """A closed account leaves the active accounts; an open review has nothing left to decide."""
    d.emit(Rule.ACCOUNT_CLOSED, {"reason": event.data.reason}, review_closed() if d.controls.review_open else {})


def _actor(event: HoldReleased | HoldDropped) -> dict[str, Any]:
    data = event.data
    return {"hold_id": data.hold_id, "actor": data.actor, "key_id": data.key_id, "role": data.role}


def _on_release(d: Decider, event: HoldReleased) -> None:
    """An operator releases a held lock: its commands go out now, as decided then (same command ids)."""
    held = d.controls.held
    assert held is not None and held["id"] == event.data.hold_id  # checked by check_action
    facts = {**_actor(event), "reason": event.data.reason}
    for n, command in enumerate(held["commands"]):
        control = "card_locked" if command["type"] == CommandType.LOCK_CARD else "line_suspended"
        changes: dict[str, Any] = {control: True}
        if n == 0:
            changes["held"] = None
        d.emit_whole(Rule.BRAKE_RELEASE, facts, changes, command)


def _on_drop(d: Decider, event: HoldDropped) -> None:
    d.emit(Rule.BRAKE_DROP, {**_actor(event), "reason": event.data.reason}, {"held": None})


def agenda_date(controls: Controls) -> date | None:
    """The business date on which this account next needs the clock, if any: an open review's deadline,
    an open promise's date (the earlier)."""
    review = controls.review_deadline if controls.review_open and not controls.review_escalated else None
    promise = controls.promise_date
    if review is None or promise is None:
        return review or promise
    return min(review, promise)
