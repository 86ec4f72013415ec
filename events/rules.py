"""The rules' ids: what every decision names, the same in the engine, the read models and the CLI.

Documented one by one in docs/policy.md. A `StrEnum`: a rule id is stored
and shown as its text, so recorded decisions read the same as before.
"""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    ACCOUNT_OPEN = "account.open"
    LOCK_OVERDUE = "lock.overdue"
    LOCK_BROKEN_PLAN = "lock.broken_plan"
    SCORE_OVERDUE = "score.overdue"
    ACCUMULATION_LIMIT_CUT = "accumulation.limit_cut"
    NOTICE_OVERDUE = "notice.overdue"
    NOTICE_DROPPED = "notice.dropped"
    UNLOCK_FULL_REPAYMENT = "unlock.full_repayment"
    PLAN_COMPLETE = "plan.complete"
    REPAIR_LIMIT_STEP = "repair.limit_step"
    REVIEW_OPEN = "review.open"
    REVIEW_REQUEST_IGNORED = "review.request_ignored"
    REVIEW_AUTO_APPROVE = "review.auto_approve"
    REVIEW_APPROVED = "review.approved"
    REVIEW_REJECTED = "review.rejected"
    REVIEW_DECISION_IGNORED = "review.decision_ignored"
    REVIEW_CLOSED_BY_PLAN = "review.closed_by_plan"
    REVIEW_ESCALATE = "review.escalate"
    ACCOUNT_CLOSED = "account.closed"
    BRAKE_RELEASE = "brake.release"
    BRAKE_DROP = "brake.drop"
    BRAKE_AUTO_DROP = "brake.auto_drop"
    RETRACTION = "retraction.applied"
    RETRACTION_COMPENSATE = "retraction.compensate"

    # default-v2: the default probability, early warning, notice outcomes (docs/policy.md)
    REVIEW_AUTO_APPROVE_WITHHELD = "review.auto_approve_withheld"
    SCORE_TIER = "score.tier"
    WATCH_START = "watch.start"
    WATCH_SIGNAL = "watch.signal"
    WATCH_REMINDER = "watch.reminder"
    WATCH_END = "watch.end"
    NOTICE_SUSPENDED = "notice.suspended"
    NOTICE_RESEND = "notice.resend"
    PROMISE_MADE = "promise.made"
    PROMISE_KEPT = "promise.kept"
    PROMISE_BROKEN = "promise.broken"


AUTOMATIC_LOCKS = frozenset({Rule.LOCK_OVERDUE.value, Rule.LOCK_BROKEN_PLAN.value})
"""The rules whose LockCard is an automatic lock, judged by the emergency brake (contract rule 8)."""
