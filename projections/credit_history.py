"""credit_history: the per-account timeline a customer-service agent reads.

One entry per billing fact (bills, repayments, reversals, overdue reports,
plans, unlock requests and reviews) and per decision (locks, unlocks, limit
changes, notices, review steps), each with a sentence a person can read out
to the customer. Personal data (phone, card reference) never appears here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from events.inbound import (
    AccountClosed,
    AccountOpened,
    BillIssued,
    FactRetracted,
    NoticeOutcomeReported,
    OverdueReported,
    RepaymentPlanAgreed,
    RepaymentReceived,
    RepaymentReversed,
    UnlockRequested,
    UnlockReviewed,
)
from events.operator import Fact, HoldDropped, HoldReleased, LockUndone, ReviewDecided
from events.rules import Rule
from projections.base import (
    Column,
    DecisionRecorded,
    FactRecorded,
    Projection,
    Recorded,
    Row,
    Table,
    Tables,
    money,
    utc,
)
from projections.base import ColumnType as T

CREDIT_HISTORY = Table(
    "credit_history",
    "Per-account timeline of facts and decisions, in event-time order, with readable descriptions.",
    (
        Column("position", T.INTEGER, "notification id of the stored event the entry comes from"),
        Column("seq", T.INTEGER, "0 for a fact, 1..n for the decisions recorded with it"),
        Column("account_id", T.TEXT, "the account"),
        Column("occurred_at", T.TIMESTAMP, "event time (UTC); decisions take their triggering event's time"),
        Column("event_id", T.TEXT, "the inbound event: the fact itself, or the one that triggered the decision"),
        Column("entry", T.TEXT, "fact type (BillIssued, ...) or, for decisions, the command type or rule"),
        Column("rule", T.TEXT, "rule id for decisions", nullable=True),
        Column("amount", T.MONEY, "the amount the entry is about, if any", nullable=True),
        Column("reference", T.TEXT, "bill, payment, plan or request id the entry is about", nullable=True),
        Column("description", T.TEXT, "one readable sentence"),
        Column("command_id", T.TEXT, "id of the command a decision emitted, if any", nullable=True),
    ),
    key=("position", "seq"),
    indexes=(("account_id", "occurred_at", "position", "seq"),),
    append_only=True,
)

# Decisions that are not worth a line of their own.
_SILENT_RULES = frozenset({Rule.ACCOUNT_OPEN})


class CreditHistory(Projection):
    name = "credit_history"
    version = 3  # 3: notice outcomes, the watch list, promises, the risk tier (default-v2)
    tables = (CREDIT_HISTORY,)
    doc = "Per-account timeline for customer service."
    weight = 48
    reads = frozenset({FactRecorded, DecisionRecorded})

    def apply(self, event: Recorded, tables: Tables) -> None:
        row: Row | None = None
        if isinstance(event, FactRecorded) and event.fact_type != "DayClosed":
            row = _fact_entry(event)
        elif isinstance(event, DecisionRecorded) and event.decision.rule not in _SILENT_RULES:
            row = _decision_entry(event)
        if row is not None:
            tables.put(CREDIT_HISTORY, row)


def _entry(event: FactRecorded | DecisionRecorded, **values: Any) -> Row:
    return {
        "position": event.position,
        "seq": event.seq,
        "account_id": event.account_id,
        "rule": None,
        "amount": None,
        "reference": None,
        "command_id": None,
        **values,
    }


def _fact_entry(event: FactRecorded) -> Row:
    fact = event.fact
    amount: Decimal | None = None
    reference: str | None = None
    if isinstance(fact, AccountOpened):
        amount = fact.data.credit_limit
        text = f"Account opened with a credit limit of {money(amount)} {fact.data.currency}"
    elif isinstance(fact, BillIssued):
        amount, reference = fact.data.amount, fact.data.bill_id
        text = f"Bill {reference} issued for {money(amount)}, due {fact.data.due_date}"
    elif isinstance(fact, RepaymentReceived):
        amount, reference = fact.data.amount, fact.data.payment_id
        target = (
            f" for bill {fact.data.bill_id}"
            if fact.data.bill_id
            else f" for plan {fact.data.plan_id}"
            if fact.data.plan_id
            else ""
        )
        text = f"Repayment {reference} of {money(amount)} received{target}"
    elif isinstance(fact, RepaymentReversed):
        reference = fact.data.payment_id
        text = f"Repayment {reference} reversed: {fact.data.reason}"
    elif isinstance(fact, OverdueReported):
        amount, reference = fact.data.outstanding, fact.data.bill_id
        what = "Plan installment" if "#" in reference else "Bill"
        text = (
            f"{what} {reference} reported overdue: {_days(fact.data.days_past_due)} past due, "
            f"{money(amount)} outstanding"
        )
    elif isinstance(fact, RepaymentPlanAgreed):
        installments = fact.data.installments
        amount, reference = sum((i.amount for i in installments), Decimal(0)), fact.data.plan_id
        text = (
            f"Repayment plan {reference} agreed: {len(installments)} installments totalling {money(amount)}, "
            f"first due {installments[0].due_date}"
        )
    elif isinstance(fact, UnlockRequested):
        reference = fact.data.request_id
        text = f"Customer applied for unlock (request {reference})"
    elif isinstance(fact, NoticeOutcomeReported):
        reference, outcome = fact.data.command_id, fact.data.outcome
        if fact.data.promised_amount is not None:
            amount = fact.data.promised_amount
            text = f"Customer promised to pay {money(amount)} by {fact.data.promised_date} (notice {reference})"
        else:
            text = f"Notice {reference} {_OUTCOMES.get(outcome, outcome)}"
    elif isinstance(fact, (UnlockReviewed, ReviewDecided)):
        reference = fact.data.request_id
        verdict = "approved" if fact.data.approved else "rejected"
        note = f": {fact.data.note}" if fact.data.note else ""
        who = f"Reviewer {fact.data.reviewer}" if isinstance(fact, UnlockReviewed) else f"Operator {fact.data.actor}"
        text = f"{who} {verdict} unlock request {reference}{note}"
    else:
        reference, text = _correction_entry(fact)
    return _entry(
        event,
        occurred_at=utc(fact.occurred_at),
        event_id=fact.event_id,
        entry=fact.type,
        amount=None if amount is None else money(amount),
        reference=reference,
        description=text,
    )


def _correction_entry(fact: Fact) -> tuple[str | None, str]:
    """The reference and sentence of a closure, a retraction or an operator's action on a held lock."""
    if isinstance(fact, AccountClosed):
        return None, f"Account closed ({fact.data.reason.replace('_', ' ')})"
    if isinstance(fact, FactRetracted):
        reference = fact.data.retracted_event_id
        return reference, f"Billing retracted event {reference}: {fact.data.reason}"
    if isinstance(fact, LockUndone):
        reference = fact.data.retracted_event_id
        return reference, f"Operator {fact.data.actor} undid the lock caused by event {reference}: {fact.data.reason}"
    assert isinstance(fact, (HoldReleased, HoldDropped))
    verb = "released" if isinstance(fact, HoldReleased) else "dropped"
    reason = f": {fact.data.reason}" if fact.data.reason else ""
    return fact.data.hold_id, f"Operator {fact.data.actor} {verb} the held lock {fact.data.hold_id}{reason}"


def _decision_entry(event: DecisionRecorded) -> Row:
    decision = event.decision
    command = decision.command or {}
    kind = str(command.get("type") or decision.rule)
    facts, changes = decision.facts, decision.changes
    amount = money(command["new_limit"]) if "new_limit" in command else None
    reference = _reference(facts)
    return _entry(
        event,
        occurred_at=utc(event.occurred_at),
        event_id=decision.cause_event_id,
        entry=kind,
        rule=decision.rule,
        amount=amount,
        reference=reference,
        description=describe_decision(decision.rule, command, facts, changes),
        command_id=command.get("command_id"),
    )


_OUTCOMES = {
    "delivered": "delivered",
    "failed": "failed to reach the customer",
    "read": "read",
    "replied": "replied to",
}


def _days(count: object) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _reference(facts: dict[str, Any]) -> str | None:
    for name in ("bill_id", "payment_id", "plan_id", "request_id"):
        if facts.get(name):
            return str(facts[name])
    return None


def _by(facts: dict[str, Any]) -> str:
    """' by <reviewer>' where the decision recorded one (before sealing); a sealed review names them in its fact."""
    return f" by {facts['reviewer']}" if "reviewer" in facts else ""


def _why(rule: str, facts: dict[str, Any]) -> str:
    """The reason a card or line changed, from the rule and its facts."""
    reasons: dict[str, Callable[[], str]] = {
        Rule.LOCK_OVERDUE: lambda: (
            f"bill {facts.get('bill_id')} {_days(facts.get('days_past_due'))} past due, "
            f"overdue outstanding {facts.get('overdue_outstanding')}"
        ),
        Rule.LOCK_BROKEN_PLAN: lambda: (
            f"plan installment {facts.get('bill_id')} missed ({_days(facts.get('days_past_due'))} past due)"
        ),
        Rule.UNLOCK_FULL_REPAYMENT: lambda: f"overdue amount repaid in full (payment {facts.get('payment_id')})",
        Rule.PLAN_COMPLETE: lambda: f"repayment plan {facts.get('plan_id')} completed",
        Rule.REVIEW_APPROVED: lambda: f"unlock request {facts.get('request_id')} approved{_by(facts)}",
        Rule.REVIEW_AUTO_APPROVE: lambda: (
            f"first installment of plan {facts.get('plan_id')} paid; "
            f"unlock request {facts.get('request_id')} approved automatically"
        ),
        Rule.BRAKE_RELEASE: lambda: f"the held lock released by {facts.get('actor')}",
        Rule.RETRACTION_COMPENSATE: lambda: (
            f"event {facts.get('retracted_event_id')} retracted ({facts.get('reason')}); the account re-derived"
        ),
    }
    explain = reasons.get(rule)
    return explain() if explain else f"rule {rule}"


def _compensation(facts: dict[str, Any], changes: dict[str, Any]) -> str:
    if "held" in changes:
        return f"Held lock {facts.get('hold_id')} dropped: its cause was retracted"
    if "bureau_flag" in changes:
        return "Credit-bureau mark cleared: its cause was retracted"
    return f"Internal score given back to {changes.get('score')}: its cause was retracted"


def describe_decision(rule: str, command: dict[str, Any], facts: dict[str, Any], changes: dict[str, Any]) -> str:
    """One sentence for a decision; commands first, then the review and notice steps."""
    kind = command.get("type")
    held = changes.get("held")
    if held is not None and not command:
        brake = held["brake"]
        what = "Card lock" if len(held["commands"]) == 1 else "Credit line suspension, with the card lock,"
        return (
            f"{what} held by the emergency brake: {brake['count']} automatic locks already emitted within the hour, "
            f"bound {brake['bound']} ({brake['active']} active accounts); an operator releases or drops it"
        )
    if kind == "LockCard":
        again = " again" if rule == Rule.LOCK_BROKEN_PLAN else ""
        return f"Card locked{again}: {_why(rule, facts)}"
    if kind == "SuspendCreditLine":
        return f"Credit line suspended: {_why(rule, facts)}"
    if kind == "UnlockCard":
        return f"Card unlocked: {_why(rule, facts)}"
    if kind == "RestoreCreditLine":
        return f"Credit line restored: {_why(rule, facts)}"
    if kind == "AdjustCreditLimit":
        if rule == Rule.ACCUMULATION_LIMIT_CUT:
            return (
                f"Credit limit cut from {facts.get('previous_limit')} to {command.get('new_limit')}: "
                f"{facts.get('overdue_bills_in_window')} bills overdue within {facts.get('window_days')} days; "
                "account marked for credit-bureau reporting"
            )
        return (
            f"Credit limit raised from {facts.get('previous_limit')} to {command.get('new_limit')} "
            f"after {facts.get('on_time_streak')} bills paid on time"
        )
    if kind == "SendNotice":
        if rule == Rule.REVIEW_ESCALATE:
            return (
                f"Unlock review {facts.get('request_id')} passed its deadline {facts.get('deadline')}: "
                f"escalated to operations ({command.get('template')} via {command.get('channel')})"
            )
        if rule == Rule.PROMISE_BROKEN:
            return (
                f"Promise to pay {facts.get('promised_amount')} by {facts.get('promised_date')} broken "
                f"({facts.get('paid_since_promise')} paid): escalated to operations "
                f"({command.get('template')} via {command.get('channel')})"
            )
        deferred = " (held for quiet hours)" if facts.get("deferred_by_quiet_hours") else ""
        if rule == Rule.NOTICE_RESEND:
            return (
                f"Notice {command.get('template')} sent again by {command.get('channel')}: the "
                f"{facts.get('failed_channel')} notice failed; delivered from {command.get('deliver_at')}{deferred}"
            )
        if rule == Rule.WATCH_REMINDER:
            return (
                f"Reminder {command.get('template')} sent by {command.get('channel')} for bill {facts.get('bill_id')} "
                f"due {facts.get('due_date')}, delivered from {command.get('deliver_at')}{deferred}"
            )
        return (
            f"Notice {command.get('template')} sent by {command.get('channel')} for bill {facts.get('bill_id')}, "
            f"delivered from {command.get('deliver_at')}{deferred}"
        )
    texts: dict[str, Callable[[], str]] = {
        Rule.REVIEW_OPEN: lambda: (
            f"Unlock review opened for request {facts.get('request_id')} under plan {facts.get('plan_id')}; "
            f"decision due by {changes.get('review_deadline')}"
        ),
        Rule.REVIEW_REJECTED: lambda: f"Unlock request {facts.get('request_id')} rejected{_by(facts)}",
        Rule.REVIEW_APPROVED: lambda: (
            f"Unlock request {facts.get('request_id')} approved{_by(facts)} (card was not locked)"
        ),
        Rule.REVIEW_AUTO_APPROVE: lambda: (
            f"Unlock request {facts.get('request_id')} approved automatically (card was not locked)"
        ),
        Rule.REVIEW_CLOSED_BY_PLAN: lambda: f"Unlock review closed: plan {facts.get('plan_id')} completed",
        Rule.REVIEW_REQUEST_IGNORED: lambda: (
            f"Unlock request {facts.get('request_id')} not reviewed: {facts.get('reason')}"
        ),
        Rule.REVIEW_DECISION_IGNORED: lambda: (
            f"Review decision on request {facts.get('request_id')} ignored: {facts.get('reason')}"
        ),
        Rule.ACCOUNT_CLOSED: lambda: f"Account closed ({facts.get('reason')})",
        Rule.BRAKE_DROP: lambda: f"Held lock dropped by {facts.get('actor')}: {facts.get('reason')}",
        Rule.BRAKE_AUTO_DROP: lambda: (
            "Held lock dropped: the overdue was paid off before release (the card never locked)"
        ),
        Rule.RETRACTION: lambda: (
            f"Event {facts.get('retracted_event_id')} retracted ({facts.get('reason')}): "
            "the account re-derived without it"
        ),
        Rule.RETRACTION_COMPENSATE: lambda: _compensation(facts, changes),
        Rule.NOTICE_DROPPED: lambda: (
            f"{_dropped(facts)} not sent: {facts.get('sent_in_window')} notices already sent this week (contact limit)"
        ),
        Rule.NOTICE_SUSPENDED: lambda: (
            f"{_dropped(facts)} not sent: the customer promised to pay by {facts.get('promised_date')}"
        ),
        Rule.WATCH_START: lambda: f"Put on the watch list: {_signal(facts)}",
        Rule.WATCH_SIGNAL: lambda: f"Another early-warning signal while watched: {_signal(facts)}",
        Rule.WATCH_END: lambda: (
            f"Off the watch list (watched since {facts.get('since')}): "
            + ("the account went overdue" if facts.get("reason") == "overdue" else "nothing owed any more")
        ),
        Rule.SCORE_TIER: lambda: (
            f"Default probability {facts.get('probability')} (scorecard {facts.get('scorecard')}): risk tier "
            f"{facts.get('previous_tier') or 'none'} -> {facts.get('tier')}; reasons: "
            f"{', '.join(facts.get('reasons') or []) or 'none'}"
        ),
        Rule.REVIEW_AUTO_APPROVE_WITHHELD: lambda: (
            f"First installment of plan {facts.get('plan_id')} paid, but unlock request {facts.get('request_id')} "
            f"waits for an operator: default probability {(facts.get('score') or {}).get('probability')} "
            f"is not below {facts.get('max_probability')}"
        ),
        Rule.PROMISE_MADE: lambda: (
            f"Promise to pay {facts.get('promised_amount')} by {facts.get('promised_date')} recorded; overdue "
            "notices wait until then"
        ),
        Rule.PROMISE_KEPT: lambda: (
            f"Promise to pay {facts.get('promised_amount')} by {facts.get('promised_date')} kept "
            f"({facts.get('paid_since_promise')} paid)"
        ),
        Rule.PROMISE_BROKEN: lambda: (
            f"Promise to pay {facts.get('promised_amount')} by {facts.get('promised_date')} broken "
            f"({facts.get('paid_since_promise')} paid)"
        ),
        Rule.SCORE_OVERDUE: lambda: (
            f"Internal score lowered by {facts.get('penalty')} to {changes.get('score')}: "
            f"bill {facts.get('bill_id')} went overdue"
        ),
    }
    describe = texts.get(rule)
    return describe() if describe else f"Decision {rule}"


def _dropped(facts: dict[str, Any]) -> str:
    """Which notice a drop or a suspension is about: an overdue point, a re-send or a reminder."""
    if "resend_of" in facts:
        return f"Re-send of notice {facts['resend_of']}"
    if "due_date" in facts:
        return f"Reminder for bill {facts.get('bill_id')} due {facts['due_date']}"
    return f"Notice for bill {facts.get('bill_id')} at {_days(facts.get('point'))} past due"


_SIGNALS = {
    "reversed_repayment": lambda f: f"repayment {f.get('payment_id')} reversed before the due date",
    "partial_payment": lambda f: f"repayment {f.get('payment_id')} left bill {f.get('bill_id')} partly unpaid",
    "open_bills": lambda f: f"{f.get('open_bills')} bills open at once",
    "utilisation": lambda f: f"utilisation rose from {f.get('before')} to {f.get('after')}",
    "tier_fall": lambda f: f"risk tier fell from {f.get('previous_tier')} to {f.get('tier')}",
}


def _signal(facts: dict[str, Any]) -> str:
    signal = str(facts.get("signal"))
    describe = _SIGNALS.get(signal)
    return describe(facts) if describe else signal
