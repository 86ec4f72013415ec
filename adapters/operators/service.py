"""Operators' actions: held locks released or dropped, unlock reviews decided, locks undone, the clock corrected.

The CLI and the HTTP API authenticate the key (its `Principal` is the actor)
and call `Operators`; each action becomes an event (events.operator) with
the request's time, the actor's name, key id and role, and an event id
derived from an idempotency key, and goes through the engine's own path
(`RiskEngine.process_parsed`): deduplicated by that id, saved with optimistic
concurrency on the account's stream. So a repeated request (a double click)
acts once, and an action never overwrites a worker's write: whoever saves
second finds the stream moved, reloads and decides again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from adapters.access.keys import NotAllowed, Principal, Role
from adapters.store import queries
from adapters.store.readers import EngineTables, HoldFilter
from adapters.store.tables import ProjectionDatabase
from engine.account import CreditAccount
from engine.application import RiskEngine
from engine.batch import Outcome
from events.commands import CommandType
from events.inbound import InvalidEvent, ParsedEvent
from events.operator import action_event_id, build_action
from events.recorded import recorded_commands
from events.rules import AUTOMATIC_LOCKS

CHUNK = 500  # actions per transaction in a bulk release or undo
_NO_OPEN_REVIEW = "account_id: the account has no open unlock review"


class ActionRefused(Exception):
    """An action that cannot be done as asked (nothing was recorded): one line for the operator."""


@dataclass(frozen=True)
class ActionOutcome:
    """What became of one action: `applied`, `duplicate` (done before with this idempotency key) or `refused`."""

    action: str
    target: str
    account_id: str | None
    event_id: str
    outcome: str
    reason: str | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)

    def jsonable(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UndoItem:
    """An automatic lock a bulk undo would undo."""

    account_id: str
    lock_command_id: str
    cause_event_id: str
    cause_at: datetime
    rule: str

    def jsonable(self) -> dict[str, Any]:
        return {**asdict(self), "cause_at": self.cause_at.isoformat()}


def _now() -> datetime:
    return datetime.now(UTC)


class Operators:
    """Operators' actions through the engine, on behalf of an authenticated key."""

    def __init__(self, engine: RiskEngine, tables: EngineTables, now: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.tables = tables
        self.now = now

    # ------------------------------------------------------------ held locks

    def release(
        self, actor: Principal, hold_ids: Sequence[str], reason: str | None = None, key: str | None = None
    ) -> list[ActionOutcome]:
        """Release held locks: each emits the commands it would have had, with their command ids."""
        return self._on_holds(actor, "HoldReleased", hold_ids, reason, key)

    def release_matching(
        self, actor: Principal, which: HoldFilter, reason: str | None = None, key: str | None = None
    ) -> list[ActionOutcome]:
        """Release every held lock `which` selects (`held release --all`)."""
        return self.release(actor, [held.hold_id for held in self.tables.holds(which)], reason, key)

    def drop(
        self, actor: Principal, hold_ids: Sequence[str], reason: str, key: str | None = None
    ) -> list[ActionOutcome]:
        """Drop held locks: nothing is emitted, ever; the reason is recorded."""
        if not reason.strip():
            raise ActionRefused("reason: say why the locks are dropped")
        return self._on_holds(actor, "HoldDropped", hold_ids, reason, key)

    def _on_holds(
        self, actor: Principal, kind: str, hold_ids: Sequence[str], reason: str | None, key: str | None
    ) -> list[ActionOutcome]:
        _require(actor, Role.OPERATOR)
        outcomes: list[ActionOutcome] = []
        actions: list[tuple[str, str | None, ParsedEvent]] = []
        for hold_id in dict.fromkeys(hold_ids):
            held = self.tables.hold(hold_id)
            data = {**_who(actor), "hold_id": hold_id, "reason": reason}
            account_id = held.account_id if held else None
            if account_id is None:
                event_id = action_event_id(kind, _key(key, hold_id))
                if self._recorded(event_id):
                    done = "done before with this idempotency key: nothing more was done"
                    outcomes.append(ActionOutcome(kind, hold_id, None, event_id, "duplicate", done))
                else:
                    refused = "hold_id: no lock with this id is held"
                    outcomes.append(ActionOutcome(kind, hold_id, None, event_id, "refused", refused))
                continue
            actions.append((hold_id, account_id, self._action(kind, _key(key, hold_id), data, account_id)))
        return outcomes + self._process(kind, actions)

    # ------------------------------------------------------------ reviews

    def decide_review(
        self,
        actor: Principal,
        account_id: str,
        approved: bool,
        note: str | None = None,
        request_id: str | None = None,
        key: str | None = None,
    ) -> ActionOutcome:
        """Approve or reject the account's open unlock review (the policy takes it as `UnlockReviewed`).

        A retry of a decision already recorded under its idempotency key answers as every action's retry
        does (`duplicate`; a different request under that key is refused), even once the review is closed:
        its event id is found from the key and the review's `request_id`. Without `request_id`, the review
        meant is the one the key already decided, if any (a retry after a new review opened must not decide
        that one), else the open one; with neither, it is refused.
        """
        _require(actor, Role.OPERATOR)
        account = self.engine.load_account(account_id)
        if account is None:
            raise ActionRefused("account_id: no such account")
        open_review = account.controls.review_id
        review = request_id
        if review is None and key is not None:
            review = self._review_decided_with(key, account_id)
        if review is None:
            review = open_review
        if review is None:
            raise ActionRefused(_NO_OPEN_REVIEW)
        data = {**_who(actor), "request_id": review, "approved": approved, "note": note}
        action = self._action("ReviewDecided", _key(key, f"{account_id}:{review}"), data, account_id)
        if review != open_review and not self._recorded(action.event.event_id):
            raise ActionRefused(_NO_OPEN_REVIEW if open_review is None else "request_id: not the account's open review")
        return self._process("ReviewDecided", [(review, account_id, action)])[0]

    # ------------------------------------------------------------ bulk undo

    def plan_undo(
        self, db: ProjectionDatabase, start: datetime, end: datetime, rule: str | None = None
    ) -> list[UndoItem]:
        """The automatic locks whose causes fall in [start, end) and whose accounts they still lock.

        Candidates come from the read model of decisions (bring it up to date first); each
        is held to the store: the account's card locked, and that lock its latest LockCard.
        """
        rules = [rule] if rule else sorted(AUTOMATIC_LOCKS)
        latest: dict[str, UndoItem] = {}
        for row in queries.locks_between(db, start, end, rules):
            latest[row["account_id"]] = UndoItem(
                row["account_id"], row["command_id"], row["cause_event_id"], row["occurred_at"], row["rule"]
            )
        still: list[UndoItem] = []
        for account_id, states in self.engine.recorded_histories(sorted(latest)):
            account = CreditAccount.load(account_id, states)
            locks = [
                command["command_id"]
                for state in states
                for command in recorded_commands(account_id, state)
                if command["type"] == CommandType.LOCK_CARD
            ]
            item = latest[account_id]
            if account.controls.card_locked and locks and locks[-1] == item.lock_command_id:
                still.append(item)
        return sorted(still, key=lambda item: (item.cause_at, item.account_id))

    def undo(
        self,
        actor: Principal,
        plan: Sequence[UndoItem],
        start: datetime,
        end: datetime,
        rule: str | None,
        reason: str,
        key: str | None = None,
    ) -> list[ActionOutcome]:
        """Undo the planned locks: each account re-derived without the lock's cause, the difference compensated."""
        _require(actor, Role.OPERATOR)
        if not reason.strip():
            raise ActionRefused("reason: say why the locks are undone")
        actions = []
        for item in plan:
            data = {
                **_who(actor),
                "lock_command_id": item.lock_command_id,
                "retracted_event_id": item.cause_event_id,
                "window_from": start.isoformat(),
                "window_to": end.isoformat(),
                "rule": rule,
                "reason": reason,
            }
            target = f"{item.account_id}:{item.lock_command_id}"
            actions.append(
                (
                    item.lock_command_id,
                    item.account_id,
                    self._action("LockUndone", _key(key, target), data, item.account_id),
                )
            )
        return self._process("LockUndone", actions)

    # ------------------------------------------------------------ the clock

    def correct_clock(
        self, actor: Principal, business_date: date, reason: str, key: str | None = None
    ) -> ActionOutcome:
        """Set the platform clock back to the true business date (admins only)."""
        _require(actor, Role.ADMIN)
        current = self.engine.load_clock().business_date
        data = {**_who(actor), "business_date": business_date.isoformat(), "reason": reason}
        action = self._action("ClockCorrected", _key(key, f"{current}:{business_date}"), data, None)
        return self._process("ClockCorrected", [(business_date.isoformat(), None, action)])[0]

    # ------------------------------------------------------------ through the engine

    def _action(self, kind: str, key: str, data: dict[str, Any], account_id: str | None) -> ParsedEvent:
        try:
            return build_action(kind, key, self.now().isoformat(), data, account_id)
        except InvalidEvent as invalid:
            raise ActionRefused(invalid.reason) from None

    def _review_decided_with(self, key: str, account_id: str) -> str | None:
        """The review of this account a decision under `key` was recorded for, if one was."""
        _, states = next(self.engine.recorded_histories([account_id]))
        facts = [state["fact"] for state in states if "fact" in state]
        for fact in facts:
            if fact["type"] == "UnlockRequested":
                review = str(fact["data"]["request_id"])
                if self._recorded(action_event_id("ReviewDecided", _key(key, f"{account_id}:{review}"))):
                    return review
        return None

    def _recorded(self, event_id: str) -> bool:
        """Whether an action with this event id is in the store (a retry then answers `duplicate`)."""
        return bool(self.engine.store.select_digests([event_id]))

    def _process(self, kind: str, actions: Sequence[tuple[str, str | None, ParsedEvent]]) -> list[ActionOutcome]:
        outcomes: list[ActionOutcome] = []
        for start in range(0, len(actions), CHUNK):
            chunk = actions[start : start + CHUNK]
            self.engine.forget_cached()  # an operator acts on the store as it is now, never on a cached copy
            results = self.engine.process_parsed([parsed for _, _, parsed in chunk])
            for (target, account_id, parsed), result in zip(chunk, results, strict=True):
                outcome, reason = result.outcome.value, result.reason
                if result.outcome is Outcome.DUPLICATE:
                    reason = "done before with this idempotency key: nothing more was done"
                elif result.reason and result.reason.startswith("event_id: already recorded"):
                    outcome, reason = "refused", "idempotency key: already used for another request"
                elif result.outcome is Outcome.ACCEPTED:
                    outcome = "applied"
                else:
                    outcome = "refused"
                commands = [command.model_dump(mode="json") for command in result.commands]
                outcomes.append(
                    ActionOutcome(kind, target, account_id, parsed.event.event_id, outcome, reason, commands)
                )
        return outcomes


def _require(actor: Principal, role: Role) -> None:
    if not actor.role.includes(role):
        raise NotAllowed(f"this needs the {role} role; the key has {actor.role}")


def _who(actor: Principal) -> dict[str, str]:
    return {"actor": actor.name, "key_id": actor.key_id, "role": actor.role.value}


def _key(given: str | None, target: str) -> str:
    """The idempotency key of one action: the caller's (per target), or the target itself (an action is done once)."""
    return target if given is None else f"{given}\x1f{target}"
