"""Notice outcomes and promises to pay (contract 1.1 `NoticeOutcomeReported`; policy `[outcomes]`).

- A failed notice of `resend_failed_channel` (sms) is re-sent once per
  `command_id` by `resend_channel` (app_push), through the quiet hours and the
  cap of every customer notice (`notice.resend`; a dropped re-send is not tried
  again).
- A promise to pay opens a promise (`promise.made`; a newer one replaces an
  open one); while it is open, overdue notices due on or before the promised
  date are dropped and counted (`notice.suspended`), not deferred.
- When a `DayClosed` with `business_date` ≥ the promised date reaches the
  account (the agenda brings it, engine.rules.agenda_date), the repayments
  recorded after the promise, net of reversals, decide: at least the promised
  amount is `promise.kept`, less is `promise.broken`, escalated by a notice to
  operations (`promise_broken` via `ops`).

Delivered, read and replied are recorded facts; no rule acts on them (the read
models count them).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from engine.contact import Emitter, send_notice
from engine.ledger import ZERO, Ledger
from engine.notices import NoticeBook
from events.commands import CommandType
from events.inbound import PROMISE_TO_PAY, DayClosed, NoticeOutcomeReported
from events.rules import Rule

_CLOSED_PROMISE: dict[str, Any] = {
    "promise_id": None,
    "promise_notice": None,
    "promise_amount": None,
    "promise_date": None,
    "promise_payments_before": 0,
}


def on_outcome(d: Emitter, event: NoticeOutcomeReported, ledger: Ledger, notices: NoticeBook) -> None:
    rule = d.policy.outcomes
    if rule is None:
        return
    data = event.data
    notice = notices.sent.get(data.command_id)
    if notice is None:  # what-if under another policy: that policy never sent it
        return
    if data.outcome == "failed" and notice.channel == rule.resend_failed_channel:
        if data.command_id in notices.resent:
            return
        local = event.occurred_at.astimezone(ledger.timezone)
        facts = {"resend_of": data.command_id, "template": notice.template, "failed_channel": notice.channel}
        if notice.rule == Rule.NOTICE_OVERDUE and promise_holds(d, local.date()):
            suspend(d, facts)
            return
        send_notice(d, Rule.NOTICE_RESEND, facts, notice.template, rule.resend_channel, local)
    elif data.outcome == PROMISE_TO_PAY:
        assert data.promised_amount is not None and data.promised_date is not None  # the contract requires them
        controls = d.controls
        d.emit(
            Rule.PROMISE_MADE,
            {
                "command_id": data.command_id,
                "template": notice.template,
                "channel": notice.channel,
                "promised_amount": str(data.promised_amount),
                "promised_date": data.promised_date.isoformat(),
                "replaces": controls.promise_id,
                "replaced_notice": controls.promise_notice,
            },
            {
                "promise_id": event.event_id,
                "promise_notice": data.command_id,
                "promise_amount": data.promised_amount,
                "promise_date": data.promised_date,
                "promise_payments_before": len(ledger.payments),
            },
        )


def promise_holds(d: Emitter, local_day: date) -> bool:
    """Whether an open promise suspends an overdue notice decided on `local_day` (the account's date)."""
    rule, controls = d.policy.outcomes, d.controls
    return (
        rule is not None
        and rule.promise_suspends_notices
        and controls.promise_date is not None
        and local_day <= controls.promise_date
    )


def suspend(d: Emitter, facts: dict[str, Any]) -> None:
    """An overdue notice not sent because a promise to pay is open: dropped and counted."""
    controls = d.controls
    assert controls.promise_date is not None
    d.emit(
        Rule.NOTICE_SUSPENDED,
        {**facts, "promise_id": controls.promise_id, "promised_date": controls.promise_date.isoformat()},
        {"notices_dropped": controls.notices_dropped + 1},
    )


def promise_due(d: Emitter, event: DayClosed, ledger: Ledger) -> None:
    """Settle an open promise once its date has been closed: kept, or broken and escalated."""
    controls, rule = d.controls, d.policy.outcomes
    due = controls.promise_date
    if due is None or event.data.business_date < due or rule is None:
        return
    amount = controls.promise_amount or ZERO
    later = list(ledger.payments.values())[controls.promise_payments_before :]
    paid = sum((p.amount for p in later if not p.reversed), Decimal("0.00"))
    facts = {
        "promise_id": controls.promise_id,
        "command_id": controls.promise_notice,
        "promised_amount": str(amount),
        "promised_date": due.isoformat(),
        "paid_since_promise": str(paid),
        "business_date": event.data.business_date.isoformat(),
    }
    if paid >= amount:
        d.emit(Rule.PROMISE_KEPT, facts, _CLOSED_PROMISE)
    elif rule.promise_broken_template is None:
        d.emit(Rule.PROMISE_BROKEN, facts, _CLOSED_PROMISE)
    else:
        d.emit(
            Rule.PROMISE_BROKEN,
            facts,
            _CLOSED_PROMISE,
            CommandType.SEND_NOTICE,
            template=rule.promise_broken_template,
            channel=rule.promise_broken_channel,
            deliver_at=event.occurred_at,
        )
