"""Audit replay: re-derive every decision from the recorded facts.

An account's recorded facts are applied again to a fresh, in-memory account
under a policy. Under the policy version that decided them, the decisions
must come out identical, byte for byte, command ids included; under another
policy the differences show what that policy would have done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine.brake import guard, recorded_verdicts
from engine.business_days import HolidayCalendar, cited_version, seed_calendar
from engine.controls import Controls
from engine.ledger import Ledger
from engine.notices import NoticeBook
from engine.policy import Policy
from engine.retraction import RETRACTIONS, decide_retraction, rebuild_ledger, rederive_controls, retracted_ids
from engine.rules import Decision, admit, decide
from engine.scoring.features import FeatureState
from events.inbound import load_object
from events.operator import ACTION_TYPES, Fact
from events.recorded import State, recorded_decisions, stored_balances

if TYPE_CHECKING:
    from engine.application import RiskEngine


def _canonical(decision: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    return orjson.dumps(decision, option=orjson.OPT_SORT_KEYS)


@dataclass
class Replay:
    account_id: str
    facts: int = 0
    recorded: list[dict[str, Any]] = field(default_factory=list)
    derived: list[dict[str, Any]] = field(default_factory=list)
    balances_differ: list[str] = field(default_factory=list)  # event ids whose recorded balances are not the ledger's
    actions: list[dict[str, Any]] = field(default_factory=list)  # operators' actions: who did what, when

    @property
    def identical(self) -> bool:
        """Every decision the same, byte for byte (canonical JSON), and every recorded balance the ledger's.

        Both lists are encoded whole, one call each: the encoding of a list of objects is equal exactly
        when their encodings are equal one by one.
        """
        return not self.balances_differ and _canonical(self.recorded) == _canonical(self.derived)

    def differences(self) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        """Pairs (recorded, derived) that differ, position by position."""
        pairs = []
        for i in range(max(len(self.recorded), len(self.derived))):
            left = self.recorded[i] if i < len(self.recorded) else None
            right = self.derived[i] if i < len(self.derived) else None
            if left is None or right is None or _canonical(left) != _canonical(right):
                pairs.append((left, right))
        return pairs


def cited_calendar(state: State) -> str | None:
    """The calendar version a recorded fact's decisions cite (a review's deadline names it), if any."""
    for stored in state.get("decisions", ()):
        citation = stored["facts"].get("calendar")
        if isinstance(citation, str):
            return cited_version(citation)
    return None


CalendarFor = Callable[[str], HolidayCalendar]


def replay(
    account_id: str,
    states: Iterable[State],
    policy: Callable[[str], Policy],
    calendar: CalendarFor | None = None,
    latest_calendar: HolidayCalendar | None = None,
) -> Replay:
    """Re-run the policies over an account's recorded facts (decoded states, events.recorded).

    Each fact goes through the same admit() and decide() as CreditAccount.handle(),
    on a fresh ledger and controls, without recording anything. `policy` maps
    the version a fact was recorded under to the policy to replay it with: the
    same version to verify, another one to ask what-if. Business days are
    counted on the calendar the recorded decision cites (`calendar` resolves
    the version; the seed when None), never on one loaded since; a fact whose
    decisions cite none gets `latest_calendar`. The balances recorded with
    each fact must be the ledger's after it: a fact altered in the store shows
    as a difference even when no decision changes.

    The emergency brake's verdict on each automatic lock is the one recorded
    (a lock recorded without one was emitted before the brake existed): the
    counts behind the verdicts are a portfolio's, proven once for the whole
    store by `engine.brake_audit`. A retraction re-derives the account as
    CreditAccount does.
    """
    result = Replay(account_id)
    ledger, controls, notices = Ledger(account_id), Controls(), NoticeBook()
    features = _Features(account_id)  # the default probability, for a policy that scores accounts
    facts: list[Fact] = []
    resolve = calendar or _seed_only
    latest = latest_calendar or seed_calendar()
    policies: dict[str, Policy] = {}  # version -> policy, asked once per account
    for state in states:
        result.facts += 1
        stored = state.get("decisions")
        if stored:
            result.recorded.extend(recorded_decisions(account_id, state))
        fact = load_object(state["fact"])
        facts.append(fact)
        version = state["policy"]
        chosen = policies.get(version)
        if chosen is None:
            chosen = policies[version] = policy(version)
        cited = cited_calendar(state) if stored else None
        in_force = latest if cited is None else resolve(cited)
        decisions: list[Decision]
        if isinstance(fact, RETRACTIONS):
            retracted = retracted_ids(facts)
            ledger = rebuild_ledger(account_id, facts, retracted)
            rederived = rederive_controls(account_id, facts, retracted, chosen, in_force)
            decisions = decide_retraction(fact, ledger, controls, rederived, chosen, in_force)
            features.add(fact)
        else:
            before = admit(ledger, fact)
            if before is None:
                continue
            features.add(fact)
            scored = features.state() if chosen.scoring is not None else None
            decided = decide(fact, before, ledger, controls, chosen, in_force, scored, notices)
            decisions = guard(decided, recorded_verdicts(stored)) if decided else decided
        if orjson.dumps(state["balances"]) != orjson.dumps(stored_balances(ledger.balances())):  # byte for byte
            result.balances_differ.append(fact.event_id)
        if fact.type in ACTION_TYPES:
            result.actions.append(action_summary(account_id, fact))
        if not decisions:
            continue
        occurred_at = fact.occurred_at.isoformat()
        for decision in decisions:
            controls = controls.changed(decision.changes)
            notices.note(decision.rule, decision.facts, decision.command)
            derived = {
                "rule": decision.rule,
                "policy_version": chosen.version,
                "cause_event_id": fact.event_id,
                "occurred_at": occurred_at,
                "facts": decision.facts,
                "changes": decision.changes,
                "command": decision.command,
            }
            if decision.brake is not None:
                derived["brake"] = decision.brake
            result.derived.append(derived)
    return result


class _Features:
    """The account's facts as of any instant (engine.scoring.features), built only once a policy scores.

    Only a policy that scores accounts reads them (a `CreditAccount` of an unscored policy keeps none
    either); the facts admitted before that are added then, in the order they came.
    """

    __slots__ = ("_state", "account_id", "pending")

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.pending: list[Fact] = []
        self._state: FeatureState | None = None

    def add(self, fact: Fact) -> None:
        if self._state is None:
            self.pending.append(fact)
        else:
            self._state.add(fact)

    def state(self) -> FeatureState:
        if self._state is None:
            self._state = FeatureState(self.account_id)
            for fact in self.pending:
                self._state.add(fact)
            self.pending = []
        return self._state


def action_summary(account_id: str | None, fact: Fact) -> dict[str, Any]:
    """Who did what, when: an operator's action as `fengkong audit` shows it."""
    data = fact.data.model_dump(mode="json")
    return {
        "account_id": account_id,
        "action": fact.type,
        "event_id": fact.event_id,
        "at": fact.occurred_at.isoformat(),
        "actor": data.pop("actor"),
        "role": data.pop("role"),
        "key_id": data.pop("key_id"),
        "details": data,
    }


def _seed_only(version: str) -> HolidayCalendar:
    seed = seed_calendar()
    if version != seed.version:
        raise LookupError(f"calendar {version!r} is not known here")
    return seed


def commands_of(decisions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["command"] for d in decisions if d["command"]]


def replay_accounts(
    engine: RiskEngine, account_ids: Iterable[str], policy: Callable[[str], Policy] | None = None
) -> Iterator[Replay]:
    """Replay each named account from the store; `policy` defaults to the versions recorded in the store."""
    documents = engine.documents()
    chosen = policy or documents.policy_for
    latest = documents.latest_calendar()
    for account_id, states in engine.recorded_histories(account_ids):
        yield replay(account_id, states, chosen, documents.calendar_for, latest)
