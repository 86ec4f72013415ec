"""An account's story for a human: each fact, each decision with its rule, thresholds and facts, each command.

Read from the recorded facts only (engine.documents gives the policy text a
decision was taken under, for the thresholds `default-v1` did not record).
People's actions are named with who acted (an operator's review). With a
moment, the account as it stood then: the facts that had happened by that
event time (in the order they were recorded) and their recorded decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from engine.account import CreditAccount
from engine.policy import Policy
from engine.thresholds import thresholds
from events.recorded import State, balances_of, recorded_decisions

PERSONAL = ("phone",)
"""Fields of facts that are personal data: shown masked."""
ACTORS = {"UnlockReviewed": "reviewer"}
"""Fact types that are a person's action, and the field naming who acted."""


def mask(value: str) -> str:
    return "*" * max(0, len(value) - 2) + value[-2:]


def story(account_id: str, states: Iterable[State], policy_for: Callable[[str], Policy]) -> list[dict[str, Any]]:
    """Each recorded fact with its decisions, thresholds included, in the order recorded."""
    entries = []
    for number, state in enumerate(states, start=1):
        fact = state["fact"]
        data = {k: (mask(v) if k in PERSONAL and isinstance(v, str) else v) for k, v in fact.get("data", {}).items()}
        policy_version = state.get("policy")
        policy = _policy(policy_for, policy_version)
        entry: dict[str, Any] = {
            "n": number,
            "event_id": fact["event_id"],
            "type": fact["type"],
            "occurred_at": fact["occurred_at"],
            "data": data,
            "policy_version": policy_version,
            "balances_after": balances_of(state),
            "decisions": [_decision(d, policy) for d in recorded_decisions(account_id, state)],
        }
        actor_field = ACTORS.get(fact["type"])
        if actor_field is not None:
            entry["operator_action"] = {"by": data.get(actor_field), "action": fact["type"]}
        entries.append(entry)
    return entries


def _policy(policy_for: Callable[[str], Policy], version: str | None) -> Policy | None:
    if version is None:
        return None
    try:
        return policy_for(version)
    except LookupError:
        return None


def _decision(decision: dict[str, Any], policy: Policy | None) -> dict[str, Any]:
    recorded = decision["facts"].get("thresholds")
    if isinstance(recorded, dict):
        compared, source = recorded, "recorded with the decision"
    elif policy is not None:
        compared, source = thresholds(decision["rule"], policy), f"policy {policy.version} as recorded in the store"
    else:
        compared, source = {}, "the policy text is not available"
    return {
        "rule": decision["rule"],
        "facts": {k: v for k, v in decision["facts"].items() if k != "thresholds"},
        "thresholds": compared,
        "thresholds_from": source if compared else None,
        "changes": decision["changes"],
        "command": decision["command"],
    }


def standing_at(account_id: str, states: Iterable[State], at: datetime) -> CreditAccount | None:
    """The account as it stood at `at` (event time): its facts up to then, with their recorded decisions."""
    account = CreditAccount(account_id)
    for state in states:
        if datetime.fromisoformat(state["fact"]["occurred_at"]) <= at:
            account.replay(state)
    return account if account.version else None
