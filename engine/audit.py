"""Audit replay: re-derive every decision from the recorded facts.

An account's recorded facts are applied again to a fresh, in-memory account
under a policy. Under the policy version that decided them, the decisions
must come out identical, byte for byte, command ids included; under another
policy the differences show what that policy would have done.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine.account import DECISION, FACT, CreditAccount, admit
from engine.controls import Controls
from engine.ledger import Ledger
from engine.policy import Policy, load_policy
from engine.rules import decide
from events.inbound import load_canonical

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

    @property
    def identical(self) -> bool:
        return [_canonical(d) for d in self.recorded] == [_canonical(d) for d in self.derived]

    def differences(self) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        """Pairs (recorded, derived) that differ, position by position."""
        pairs = []
        for i in range(max(len(self.recorded), len(self.derived))):
            left = self.recorded[i] if i < len(self.recorded) else None
            right = self.derived[i] if i < len(self.derived) else None
            if left is None or right is None or _canonical(left) != _canonical(right):
                pairs.append((left, right))
        return pairs


_DECISION_FIELDS = ("rule", "policy_version", "cause_event_id", "occurred_at", "facts", "changes", "command")
_FACT, _DECISION = FACT, DECISION


def replay(account_id: str, stream: Sequence[Any], policy: Callable[[str], Policy]) -> Replay:
    """Re-run the policies over the facts in an account's recorded `stream` (domain events).

    `policy` maps the version a fact was recorded under to the policy to
    replay it with: the same version to verify, another one to ask what-if.
    """
    states = (
        (_FACT if isinstance(e, CreditAccount.FactRecorded) else _DECISION, vars(e))
        for e in stream
        if isinstance(e, (CreditAccount.FactRecorded, CreditAccount.Decided))
    )
    return _replay(account_id, states, policy)


def _replay(account_id: str, states: Iterable[tuple[str, dict[str, Any]]], policy: Callable[[str], Policy]) -> Replay:
    """Each fact goes through the same admit() and decide() as CreditAccount.handle(),
    on a fresh ledger and controls, without recording events: replay only compares decisions.
    """
    result = Replay(account_id)
    ledger, controls = Ledger(account_id), Controls()
    for kind, state in states:
        if kind == _DECISION:
            result.recorded.append({name: state[name] for name in _DECISION_FIELDS})
            continue
        result.facts += 1
        fact = load_canonical(state["fact"])
        before = admit(ledger, fact)
        if before is None:
            continue
        chosen = policy(state["policy_version"])
        occurred_at = fact.occurred_at.isoformat()
        for decision in decide(fact, before, ledger, controls, chosen):
            controls = controls.changed(decision.changes)
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
        yield _replay(account_id, states, chosen)
