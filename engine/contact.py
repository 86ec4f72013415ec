"""Contacting the customer: quiet hours and the contact-frequency cap, for every customer notice.

Overdue notices (engine.rules), pre-due reminders (engine.watch) and re-sends
of a failed notice (engine.outcomes) all go through `send_notice`, so the
policy's quiet hours and its cap (`notices.max_per_window` in
`notices.window_days`) hold for all of them alike. Escalations to operations
(channel `ops`) are not customer contact and do not come here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.controls import Controls
from engine.policy import NoticeRule, Policy
from engine.scoring.scorecard import Score
from events.commands import CommandType
from events.operator import Fact
from events.rules import Rule


class Emitter(Protocol):
    """What a rule sees of the decider (engine.rules): the event, the controls so far, the policy; emit, score."""

    @property
    def event(self) -> Fact: ...
    @property
    def controls(self) -> Controls: ...
    @property
    def policy(self) -> Policy: ...

    def emit(
        self,
        rule: Rule,
        facts: dict[str, Any],
        changes: dict[str, Any] | None = None,
        command: CommandType | None = None,
        **command_fields: Any,
    ) -> None: ...

    def score(self) -> Score: ...


def quiet_hours_release(local: datetime, rule: NoticeRule) -> datetime:
    """The first moment at or after `local` outside quiet hours, in the same zone."""
    start, end, now = rule.quiet_start, rule.quiet_end, local.time()
    spans_midnight = start > end
    quiet = (now >= start or now < end) if spans_midnight else (start <= now < end)
    if not quiet:
        return local
    day = local.date() + timedelta(days=1) if spans_midnight and now >= start else local.date()
    wall = datetime.combine(day, end)
    return wall.replace(tzinfo=local.tzinfo).astimezone(local.tzinfo)


def send_notice(
    d: Emitter,
    rule: Rule,
    facts: dict[str, Any],
    template: str,
    channel: str,
    local: datetime,
    changes: dict[str, Any] | None = None,
) -> bool:
    """Send a customer notice decided at `local` (the event time in the account's zone); False if dropped.

    Held past quiet hours (`deliver_at`, with `deferred_by_quiet_hours` in the
    facts); dropped and counted (`notice.dropped`, `notices_dropped`) when the
    cap is full in the window before its delivery. `changes` go with either.
    """
    notices = d.policy.notices
    deliver_at = quiet_hours_release(local, notices)
    facts = {**facts, "deferred_by_quiet_hours": deliver_at != local}
    window_start = deliver_at - timedelta(days=notices.window_days)
    recent = tuple(t for t in d.controls.recent_notices if t > window_start)
    if len(recent) >= notices.max_per_window:
        facts["sent_in_window"] = len(recent)
        d.emit(Rule.NOTICE_DROPPED, facts, {**(changes or {}), "notices_dropped": d.controls.notices_dropped + 1})
        return False
    d.emit(
        rule,
        facts,
        {**(changes or {}), "recent_notices": (*recent, deliver_at)[-notices.max_per_window :]},
        CommandType.SEND_NOTICE,
        template=template,
        channel=channel,
        deliver_at=deliver_at,
    )
    return True


def score_facts(d: Emitter) -> dict[str, Any]:
    """What a decision that used the default probability records of it: scorecard, points, probability,
    tier and the top three reason codes (the attributes that cost the most points)."""
    score = d.score()
    return {
        "scorecard": score.version,
        "points": score.points,
        "probability": str(score.probability),
        "tier": score.tier,
        "reasons": list(score.reasons),
    }
