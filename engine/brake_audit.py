"""Proving the emergency brake: its ledger re-derived once, sequentially, in notification order.

Audit replays accounts independently (and in parallel), taking each
automatic lock's verdict as recorded. What a single account cannot prove is
the count behind a verdict: that is the whole portfolio's. This pass reads
the store's notification log once, in order, and keeps what the brake kept:
the accounts opened and not closed, and the cause times of the automatic
locks emitted. At each batch the brake judged (a `$brake` event, written
first in its transaction) the recorded `active` must be the accounts opened
and not closed before it; each recorded verdict must be the count of locks
emitted in its window before it, the bound of the policy it was decided
under, and `held` exactly when the count reached the bound. A lock recorded
without a verdict (before the brake existed) was emitted and counts.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.brake import EMITTED, HELD, micros
from engine.policy import Policy
from events.commands import CommandType
from events.recorded import BRAKE_TOPIC, CLOCK_ACTION_TOPIC, FACT_TOPIC, decode
from events.rules import AUTOMATIC_LOCKS

_PER_MINUTE = 60_000_000


@dataclass
class BrakeAudit:
    batches: int = 0  # batches the brake judged
    verdicts: int = 0  # verdicts proven
    held: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)  # (what was recorded, what re-derivation says)
    clock_actions: list[dict[str, Any]] = field(default_factory=list)  # corrections of the platform clock

    @property
    def identical(self) -> bool:
        return not self.differences


def audit_brake(notifications: Iterable[tuple[int, str, bytes]], policy: Callable[[str], Policy]) -> BrakeAudit:
    """Re-derive the brake's ledger from (notification id, topic, state) in notification order."""
    result = BrakeAudit()
    opened = closed = 0
    active: int | None = None
    emitted: list[int] = []  # cause times of the automatic locks emitted so far, ascending
    for position, topic, raw in notifications:
        if topic == BRAKE_TOPIC:
            state = decode(raw)
            result.batches += 1
            active = int(state["active"])
            if active != opened - closed:
                result.differences.append(
                    {"position": position, "recorded": {"active": active}, "derived": {"active": opened - closed}}
                )
            continue
        if topic == CLOCK_ACTION_TOPIC:
            result.clock_actions.append({"position": position, **decode(raw)["fact"]})
            continue
        if topic != FACT_TOPIC:
            continue
        state = decode(raw)
        fact = state["fact"]
        if fact["type"] == "AccountOpened":
            opened += 1
        elif fact["type"] == "AccountClosed":
            closed += 1
        for stored in state.get("decisions", ()):
            if stored["rule"] not in AUTOMATIC_LOCKS:
                continue
            at = micros(datetime.fromisoformat(fact["occurred_at"]))
            verdict = stored.get("brake")
            if verdict is None:
                command = stored.get("command")
                if command is not None and command.get("type") == CommandType.LOCK_CARD:
                    insort(emitted, at)  # recorded before the brake existed: emitted
                continue
            rule = policy(state["policy"]).brake
            judged_active = active if active is not None else opened - closed
            bound = rule.bound(judged_active)
            after = at - rule.window_minutes * _PER_MINUTE
            count = bisect_right(emitted, at) - bisect_right(emitted, after)
            expected = {"count": count, "active": judged_active, "bound": bound, "verdict": HELD}
            if count < bound:
                expected["verdict"] = EMITTED
            result.verdicts += 1
            if verdict != expected:
                result.differences.append(
                    {"position": position, "event_id": fact["event_id"], "recorded": verdict, "derived": expected}
                )
            if verdict["verdict"] == EMITTED:
                insort(emitted, at)
            else:
                result.held += 1
    return result
