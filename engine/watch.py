"""Early warning: signals before the due date put an account on the watch list (policy `[early_warning]`).

A signal counts only while nothing of the account is overdue (after that the
overdue rules take over): a reversed repayment, a partial payment, several
bills open at once, utilisation rising to a threshold, a fall of the default
probability's risk tier. The first signal puts the account on the watch list
(`watch.start`: since when, and why), later ones are recorded beside it
(`watch.signal`); each may send a pre-due reminder for the next bill due,
once per bill, through the same quiet hours and cap as every customer notice.
The watch ends when the account goes overdue (`watch.end`, reason `overdue`:
the collection path takes over) or when it owes nothing any more (`repaid`).

The tier is followed at each new bill: the same point of every billing cycle,
so a tier is compared with like (utilisation, the strongest attribute, rises
with every bill and falls with its repayment: scored at every fact, the tier
of most accounts would swing each month; at opening, nothing is used yet). A
tier that differs from the one recorded is recorded (`score.tier`), with the
score's reason codes; one at least `tier_fall_steps` tiers worse than at the
previous bill is the signal `tier_fall`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from engine.contact import Emitter, score_facts, send_notice
from engine.ledger import Ledger
from engine.policy import EarlyWarningRule
from events.inbound import (
    AccountEvent,
    BillIssued,
    OverdueReported,
    RepaymentReceived,
    RepaymentReversed,
)
from events.rules import Rule

_RATIO = Decimal("0.0001")
_EXACT = Context(prec=28, rounding=ROUND_HALF_EVEN)


def utilisation(outstanding: Decimal, ledger: Ledger) -> Decimal:
    """outstanding / the limit the account was opened with, 4 places (the scorecard's definition)."""
    if ledger.opening_limit <= 0:
        return Decimal(0)
    return _EXACT.divide(outstanding, ledger.opening_limit).quantize(_RATIO, context=_EXACT)


def early_warning(d: Emitter, event: AccountEvent, ledger: Ledger, outstanding_before: Decimal | None) -> None:
    """The early-warning rules on a fact the ledger already reflects (after the default-v1 rules)."""
    rule = d.policy.early_warning
    if rule is None:
        return
    if isinstance(event, OverdueReported):
        _end(d, "overdue")
        return
    if not isinstance(event, (BillIssued, RepaymentReceived, RepaymentReversed)):
        return
    signals = _signals(rule, event, ledger, outstanding_before)
    if rule.tier_fall and isinstance(event, BillIssued):
        fell = _follow_tier(d)
        if fell is not None:
            signals.append(fell)
    if ledger.days_past_due > 0:
        return
    for reason, facts in signals:
        _signal(d, rule, reason, facts, ledger)
    if isinstance(event, RepaymentReceived) and ledger.outstanding == 0:
        _end(d, "repaid")


def _signals(
    rule: EarlyWarningRule, event: AccountEvent, ledger: Ledger, outstanding_before: Decimal | None
) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(event, RepaymentReversed) and rule.reversed_repayment:
        found.append(("reversed_repayment", {"payment_id": event.data.payment_id}))
    elif isinstance(event, RepaymentReceived) and rule.partial_payment:
        payment = ledger.payments[event.data.payment_id]
        short = [bill_id for bill_id, _ in payment.allocations if ledger.bills[bill_id].balance > 0]
        if short:
            found.append(("partial_payment", {"payment_id": payment.payment_id, "bill_id": short[0]}))
    elif isinstance(event, BillIssued):
        regular = [b for b in ledger.bills.values() if b.plan_id is None and b.is_open]
        if rule.open_bills is not None and len(regular) >= rule.open_bills:
            found.append(("open_bills", {"open_bills": len(regular), "threshold": rule.open_bills}))
        threshold = rule.utilisation_above
        if threshold is not None and outstanding_before is not None:
            before, after = utilisation(outstanding_before, ledger), utilisation(ledger.outstanding, ledger)
            if before < threshold <= after:
                found.append(("utilisation", {"before": str(before), "after": str(after), "threshold": str(threshold)}))
    return found


def _follow_tier(d: Emitter) -> tuple[str, dict[str, Any]] | None:
    """Record a changed risk tier; a fall (a riskier tier than the one recorded) is a signal."""
    score = d.score()
    previous = d.controls.risk_tier
    if score.tier == previous:
        return None
    facts = {"previous_tier": previous, **score_facts(d)}
    d.emit(Rule.SCORE_TIER, facts, {"risk_tier": score.tier})
    order = [tier.name for tier in d.policy.scorecard.tiers]
    if previous is None or previous not in order:
        return None
    steps = d.policy.early_warning.tier_fall_steps if d.policy.early_warning else 1
    if order.index(score.tier) - order.index(previous) < steps:
        return None
    return "tier_fall", facts


def _signal(d: Emitter, rule: EarlyWarningRule, reason: str, facts: dict[str, Any], ledger: Ledger) -> None:
    controls = d.controls
    facts = {"signal": reason, **facts}
    if controls.watch_since is None:
        d.emit(Rule.WATCH_START, facts, {"watch_since": d.event.occurred_at, "watch_reason": reason})
    else:
        d.emit(Rule.WATCH_SIGNAL, {**facts, "watched_since": controls.watch_since.isoformat()})
    if rule.reminder_template is not None:
        _remind(d, rule, reason, ledger)


def _remind(d: Emitter, rule: EarlyWarningRule, reason: str, ledger: Ledger) -> None:
    """A pre-due reminder for the open bill due next, unless one was sent (or dropped) for it already."""
    assert rule.reminder_template is not None
    local = d.event.occurred_at.astimezone(ledger.timezone)
    today, reminded = local.date(), d.controls.reminded_through
    due = [
        bill
        for bill in ledger.bills.values()
        if bill.is_open and bill.due_date >= today and (reminded is None or bill.due_date > reminded)
    ]
    if not due:
        return
    bill = min(due, key=lambda b: (b.due_date, b.seq))
    facts = {"bill_id": bill.bill_id, "due_date": bill.due_date.isoformat(), "signal": reason}
    changes = {"reminded_through": bill.due_date}
    send_notice(d, Rule.WATCH_REMINDER, facts, rule.reminder_template, rule.reminder_channel, local, changes)


def _end(d: Emitter, reason: str) -> None:
    since = d.controls.watch_since
    if since is None:
        return
    d.emit(Rule.WATCH_END, {"reason": reason, "since": since.isoformat()}, {"watch_since": None, "watch_reason": None})
