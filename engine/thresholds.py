"""The policy settings each rule compares with: its thresholds, for the record and for the explanation.

Decisions of `default-v1` record the figures they compared but not every
setting they compared them with (`lock.overdue` records `days_past_due`, not
`min_days_past_due`); their facts stay as they are, so that they replay byte
for byte. `fengkong audit explain` shows the thresholds from the text of the
recorded policy instead, and a policy that sets `decisions.record_thresholds`
records them in each decision's facts (`"thresholds"`), from this same map.
"""

from __future__ import annotations

from typing import Any

from engine.policy import Policy
from events.rules import Rule

THRESHOLDS: dict[str, tuple[str, ...]] = {
    Rule.ACCOUNT_OPEN: ("score.initial",),
    Rule.LOCK_OVERDUE: ("lock.min_days_past_due", "lock.min_overdue_outstanding"),
    Rule.LOCK_BROKEN_PLAN: ("lock.min_days_past_due", "lock.min_overdue_outstanding"),
    Rule.SCORE_OVERDUE: ("score.overdue_penalty", "score.minimum"),
    Rule.ACCUMULATION_LIMIT_CUT: (
        "accumulation.overdue_bills",
        "accumulation.window_days",
        "accumulation.limit_factor",
        "score.accumulation_penalty",
    ),
    Rule.NOTICE_OVERDUE: (
        "notices.points",
        "notices.quiet_start",
        "notices.quiet_end",
        "notices.max_per_window",
        "notices.window_days",
    ),
    Rule.NOTICE_DROPPED: ("notices.max_per_window", "notices.window_days"),
    Rule.REPAIR_LIMIT_STEP: ("repair.on_time_bills", "repair.limit_step", "score.repair_step", "score.maximum"),
    Rule.REVIEW_OPEN: ("review.business_days", "review.calendar"),
    Rule.REVIEW_AUTO_APPROVE: ("review.auto_approve_on_first_installment",),
    Rule.REVIEW_ESCALATE: ("review.business_days",),
}
"""Rule id -> the settings (section.name) it compares with; a rule absent here compares with none."""


def thresholds(rule: str, policy: Policy) -> dict[str, Any]:
    """The settings `rule` compares with under `policy`, in JSON form (decimals as strings)."""
    settings = policy.settings_json
    found = {}
    for path in THRESHOLDS.get(rule, ()):
        section, name = path.split(".")
        found[path] = settings[section][name]
    return found
