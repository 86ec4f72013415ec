"""Audit replay: re-derive every decision from the recorded facts.

An account's recorded facts are applied again to a fresh, in-memory account
under a policy. Under the policy version that decided them, the decisions
must come out identical, byte for byte, command ids included; under another
policy the differences show what that policy would have done.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from engine.account import CreditAccount
from engine.policy import Policy, load_policy
from events.inbound import ParsedEvent, load_canonical

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


def _decision_record(event: Any) -> dict[str, Any]:
    return {
        "rule": event.rule,
        "policy_version": event.policy_version,
        "cause_event_id": event.cause_event_id,
        "occurred_at": event.occurred_at,
        "facts": event.facts,
        "changes": event.changes,
        "command": event.command,
    }


def replay(account_id: str, stream: Sequence[Any], policy: Callable[[str], Policy]) -> Replay:
    """Re-run the policies over the facts in an account's recorded `stream`.

    `policy` maps the version a fact was recorded under to the policy to
    replay it with: the same version to verify, another one to ask what-if.
    """
    result = Replay(account_id)
    fresh: CreditAccount | None = None
    for recorded in stream:
        if isinstance(recorded, CreditAccount.Decided):
            result.recorded.append(_decision_record(recorded))
        elif isinstance(recorded, CreditAccount.FactRecorded):
            fresh = fresh or CreditAccount(account_id)
            parsed = ParsedEvent(
                event=load_canonical(recorded.fact),
                canonical=recorded.fact,
                digest=hashlib.sha256(recorded.fact.encode()).hexdigest(),
            )
            fresh.handle(parsed, policy(recorded.policy_version))
            result.facts += 1
            for new in fresh.collect_events():
                if isinstance(new, CreditAccount.Decided):
                    result.derived.append(_decision_record(new))
    return result


def commands_of(decisions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["command"] for d in decisions if d["command"]]


def replay_accounts(
    engine: RiskEngine, account_ids: Iterable[str], policy: Callable[[str], Policy] | None = None
) -> Iterator[Replay]:
    """Replay each named account from the store; `policy` defaults to the recorded versions."""
    chosen = policy or functools.cache(load_policy)
    for account_id in account_ids:
        stream = list(engine.events.get(CreditAccount.create_id(account_id)))
        if not stream:
            raise LookupError(f"no account {account_id!r} in the store")
        yield replay(account_id, stream, chosen)


def replay_store(engine: RiskEngine, policy: Callable[[str], Policy] | None = None) -> Iterator[Replay]:
    """Replay every account in the store (`fengkong audit --all`)."""
    return replay_accounts(engine, engine.store.select_account_ids(), policy)
