"""Audit replay: re-derive every decision from the recorded facts.

An account's recorded facts are applied again to a fresh, in-memory account
under a policy. Under the policy version that decided them, the decisions
must come out identical, byte for byte, command ids included; under another
policy the differences show what that policy would have done.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine.account import admit
from engine.controls import Controls
from engine.ledger import Ledger
from engine.notices import NoticeBook
from engine.policy import Policy, load_policy
from engine.rules import decide
from engine.scoring.features import FeatureState
from events.inbound import load_object
from events.recorded import State, balances_of, recorded_decisions

if TYPE_CHECKING:
    from engine.application import RiskEngine


def _canonical(decision: dict[str, Any]) -> bytes:
    return orjson.dumps(decision, option=orjson.OPT_SORT_KEYS)


@dataclass
class Replay:
    account_id: str
    facts: int = 0
    recorded: list[dict[str, Any]] = field(default_factory=list)
    derived: list[dict[str, Any]] = field(default_factory=list)
    balances_differ: list[str] = field(default_factory=list)  # event ids whose recorded balances are not the ledger's

    @property
    def identical(self) -> bool:
        same = [_canonical(d) for d in self.recorded] == [_canonical(d) for d in self.derived]
        return same and not self.balances_differ

    def differences(self) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        """Pairs (recorded, derived) that differ, position by position."""
        pairs = []
        for i in range(max(len(self.recorded), len(self.derived))):
            left = self.recorded[i] if i < len(self.recorded) else None
            right = self.derived[i] if i < len(self.derived) else None
            if left is None or right is None or _canonical(left) != _canonical(right):
                pairs.append((left, right))
        return pairs


def replay(account_id: str, states: Iterable[State], policy: Callable[[str], Policy]) -> Replay:
    """Re-run the policies over an account's recorded facts (decoded states, events.recorded).

    Each fact goes through the same admit() and decide() as CreditAccount.handle(),
    on a fresh ledger and controls, without recording anything. `policy` maps
    the version a fact was recorded under to the policy to replay it with: the
    same version to verify, another one to ask what-if. The balances recorded
    with each fact must be the ledger's after it: a fact altered in the store
    shows as a difference even when no decision changes.
    """
    result = Replay(account_id)
    ledger, controls, notices = Ledger(account_id), Controls(), NoticeBook()
    features = FeatureState(account_id)  # the default probability, for a policy that scores accounts
    for state in states:
        result.facts += 1
        result.recorded.extend(recorded_decisions(account_id, state))
        fact = load_object(state["fact"])
        before = admit(ledger, fact)
        if before is None:
            continue
        features.add(fact)
        if balances_of(state) != ledger.balances():
            result.balances_differ.append(fact.event_id)
        chosen = policy(state["policy"])
        occurred_at = fact.occurred_at.isoformat()
        for decision in decide(fact, before, ledger, controls, chosen, features, notices):
            controls = controls.changed(decision.changes)
            notices.note(decision.rule, decision.facts, decision.command)
            result.derived.append(
                {
                    "rule": decision.rule,
                    "policy_version": chosen.version,
                    "cause_event_id": fact.event_id,
                    "occurred_at": occurred_at,
                    "facts": decision.facts,
                    "changes": decision.changes,
                    "command": decision.command,
                }
            )
    return result


def commands_of(decisions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["command"] for d in decisions if d["command"]]


def replay_accounts(
    engine: RiskEngine, account_ids: Iterable[str], policy: Callable[[str], Policy] | None = None
) -> Iterator[Replay]:
    """Replay each named account from the store; `policy` defaults to the recorded versions."""
    chosen = policy or functools.cache(load_policy)
    for account_id, states in engine.recorded_histories(account_ids):
        yield replay(account_id, states, chosen)
