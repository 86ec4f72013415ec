"""The emergency brake (contract rule 8): automatic locks beyond a bound per hour of event time are held.

A portfolio rule no account can decide alone. `CreditAccount.handle` passes
the decisions of `decide()` through a guard before recording them: each
automatic lock (a `LockCard` of rules 1 and 5) gets a verdict, and a held
one is recorded with its facts, the count, `active`, the bound and the
verdict, without a command (its `SuspendCreditLine` with it), the would-be
commands kept in the account's `held` control until an operator releases
or drops them.

`Judge` counts, for a lock whose cause has event time t, the automatic locks
already emitted whose causes have event time t' with t - window < t' <= t:
those the store recorded (`BrakeSource.emitted_between`) and those emitted
earlier in the same batch (input order). The batch takes its verdicts
against a snapshot while preparing; the transaction that saves the batch
locks the brake's record and judges again (engine.batch.Batch.settle), so
the verdicts stored are those of commit order, one count for every worker.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.policy import BrakeRule
from engine.rules import Decision
from events.commands import CommandType
from events.rules import AUTOMATIC_LOCKS

EMITTED, HELD = "emitted", "held"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PER_MINUTE = 60_000_000


def micros(moment: datetime) -> int:
    """An event time as whole microseconds since the epoch (UTC): exact, and ordered like the times."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


@dataclass(frozen=True)
class BrakeState:
    """The brake's record: what every worker judges against, in commit order."""

    active: int  # accounts whose AccountOpened was recorded, less those closed
    version: int = 0  # batches judged so far: the version of the `$brake` stream
    tripped_since: int | None = None  # cause time (µs) of the first lock held since the last one emitted
    last_at: int | None = None  # the latest cause time judged (µs)
    last_bound: int | None = None  # the bound of the latest verdict


class BrakeSource(Protocol):
    """Where a judge reads the brake's record and the emitted locks (the store, or a locked transaction)."""

    def brake_state(self) -> BrakeState: ...
    def emitted_between(self, after: int, until: int) -> list[int]:
        """Cause times (µs, ascending) of the automatic locks emitted with after < time <= until."""
        ...


class _Window:
    """The store's emitted cause times over the span read so far, read again only where a new span needs."""

    def __init__(self, source: BrakeSource) -> None:
        self.source = source
        self.after: int | None = None
        self.until: int | None = None
        self.times: list[int] = []

    def count(self, after: int, until: int) -> int:
        if self.after is None or self.until is None:
            self.times = self.source.emitted_between(after, until)
            self.after, self.until = after, until
        else:
            if after < self.after:
                self.times = self.source.emitted_between(after, self.after) + self.times
                self.after = after
            if until > self.until:
                self.times += self.source.emitted_between(self.until, until)
                self.until = until
        return bisect_right(self.times, until) - bisect_right(self.times, after)


class Judge:
    """Verdicts on a batch's automatic locks, in input order, against one state of the brake."""

    def __init__(self, source: BrakeSource, state: BrakeState | None = None) -> None:
        self.state = state if state is not None else source.brake_state()
        self._window = _Window(source)
        self._emitted: list[int] = []  # cause times this batch emitted so far, ascending

    def judge(self, at: int, rule: BrakeRule) -> dict[str, Any]:
        """The verdict on a lock whose cause has event time `at` (µs): the count, `active`, the bound."""
        active = self.state.active
        bound = rule.bound(active)
        after = at - rule.window_minutes * _PER_MINUTE
        local = bisect_right(self._emitted, at) - bisect_right(self._emitted, after)
        count = self._window.count(after, at) + local
        verdict = HELD if count >= bound else EMITTED
        if verdict == EMITTED:
            insort(self._emitted, at)
        return {"count": count, "active": active, "bound": bound, "verdict": verdict}


Verdicts = Callable[[Decision], "dict[str, Any] | None"]
"""A decision that is an automatic lock -> its verdict (None: recorded before the brake existed, emitted)."""


def is_automatic_lock(decision: Decision) -> bool:
    command = decision.command
    return command is not None and command["type"] == CommandType.LOCK_CARD and decision.rule in AUTOMATIC_LOCKS


def guard(decisions: list[Decision], verdict_of: Verdicts) -> list[Decision]:
    """The decisions with each automatic lock judged: emitted as decided, or held without its commands.

    A held `LockCard` records `held` (its id, the would-be commands and the verdict) instead of
    `card_locked`; the `SuspendCreditLine` the same rule decided with it joins the held commands.
    """
    out: list[Decision] = []
    held: dict[str, Any] | None = None
    held_rule = None
    for decision in decisions:
        command = decision.command
        if is_automatic_lock(decision):
            assert command is not None
            verdict = verdict_of(decision)
            if verdict is None:
                out.append(decision)
            elif verdict["verdict"] == EMITTED:
                out.append(replace(decision, brake=verdict))
            else:
                held, held_rule = {"id": command["command_id"], "commands": [command], "brake": verdict}, decision.rule
                out.append(Decision(decision.rule, decision.facts, {"held": held}, None, brake=verdict))
            continue
        if (
            held is not None
            and command is not None
            and command["type"] == CommandType.SUSPEND_CREDIT_LINE
            and decision.rule == held_rule
        ):
            held = {**held, "commands": [*held["commands"], command]}
            out.append(Decision(decision.rule, decision.facts, {"held": held}, None))
            continue
        out.append(decision)
    return out


def recorded_verdicts(recorded: list[dict[str, Any]] | None) -> Verdicts:
    """For audit replay: the verdicts a fact's recorded decisions hold (None: it recorded none), handed out in order."""
    pending = [stored["brake"] for stored in recorded or () if "brake" in stored]
    pending.reverse()
    return lambda _: pending.pop() if pending else None


@dataclass(frozen=True)
class Candidate:
    """An automatic lock a batch judged: where its verdict lives (`record`, updated in place when settled)."""

    account_id: str
    event_id: str
    at: int
    rule: BrakeRule
    record: dict[str, Any]
