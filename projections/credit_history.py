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
    AccountOpened,
    BillIssued,
    DayClosed,
    OverdueReported,
    RepaymentPlanAgreed,
    RepaymentReceived,
    RepaymentReversed,
    UnlockRequested,
    UnlockReviewed,
)
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
    version = 2
    tables = (CREDIT_HISTORY,)
    doc = "Per-account timeline for customer service."
    weight = 15

    def apply(self, event: Recorded, tables: Tables) -> None:
        row: Row | None = None
        if isinstance(event, FactRecorded) and not isinstance(event.fact, DayClosed):
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
    else:
        assert isinstance(fact, UnlockReviewed)
        reference = fact.data.request_id
        verdict = "approved" if fact.data.approved else "rejected"
        note = f": {fact.data.note}" if fact.data.note else ""
        text = f"Reviewer {fact.data.reviewer} {verdict} unlock request {reference}{note}"
    return _entry(
        event,
        occurred_at=utc(fact.occurred_at),
        event_id=fact.event_id,
        entry=fact.type,
        amount=None if amount is None else money(amount),
        reference=reference,
        description=text,
    )


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


def _days(count: object) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _reference(facts: dict[str, Any]) -> str | None:
    for name in ("bill_id", "payment_id", "plan_id", "request_id"):
        if facts.get(name):
            return str(facts[name])
    return None


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
        Rule.REVIEW_APPROVED: lambda: f"unlock request {facts.get('request_id')} approved by {facts.get('reviewer')}",
        Rule.REVIEW_AUTO_APPROVE: lambda: (
            f"first installment of plan {facts.get('plan_id')} paid; "
            f"unlock request {facts.get('request_id')} approved automatically"
        ),
    }
    explain = reasons.get(rule)
    return explain() if explain else f"rule {rule}"


def describe_decision(rule: str, command: dict[str, Any], facts: dict[str, Any], changes: dict[str, Any]) -> str:
    """One sentence for a decision; commands first, then the review and notice steps."""
    kind = command.get("type")
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
        deferred = " (held for quiet hours)" if facts.get("deferred_by_quiet_hours") else ""
        return (
            f"Notice {command.get('template')} sent by {command.get('channel')} for bill {facts.get('bill_id')}, "
            f"delivered from {command.get('deliver_at')}{deferred}"
        )
    texts: dict[str, Callable[[], str]] = {
        Rule.REVIEW_OPEN: lambda: (
            f"Unlock review opened for request {facts.get('request_id')} under plan {facts.get('plan_id')}; "
            f"decision due by {changes.get('review_deadline')}"
        ),
        Rule.REVIEW_REJECTED: lambda: f"Unlock request {facts.get('request_id')} rejected by {facts.get('reviewer')}",
        Rule.REVIEW_APPROVED: lambda: (
            f"Unlock request {facts.get('request_id')} approved by {facts.get('reviewer')} (card was not locked)"
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
        Rule.NOTICE_DROPPED: lambda: (
            f"Notice for bill {facts.get('bill_id')} at {_days(facts.get('point'))} past due not sent: "
            f"{facts.get('sent_in_window')} notices already sent this week (contact limit)"
        ),
        Rule.SCORE_OVERDUE: lambda: (
            f"Internal score lowered by {facts.get('penalty')} to {changes.get('score')}: "
            f"bill {facts.get('bill_id')} went overdue"
        ),
    }
    describe = texts.get(rule)
    return describe() if describe else f"Decision {rule}"
