"""Forgetting a customer and giving them what the engine holds on them (the right of access).

Accounts belong to a customer by their opening: `AccountOpened.customer_id`,
sealed under the customer's key, names the key; an account opened before
sealing existed names its customer in plain text (reported, never hidden).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters.privacy.keyring import KeyRing
from adapters.store.readers import PrivacyRecords
from events.personal import is_sealed, sealed_key


class NothingToForget(LookupError):
    """The customer has no key: never seen, or forgotten already."""


@dataclass
class Holdings:
    """A customer's accounts: those sealed under their key, and those recorded in plain text before sealing."""

    key_id: str | None
    sealed: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)

    @property
    def accounts(self) -> list[str]:
        return sorted(self.sealed + self.plain)


def holdings(keys: KeyRing, records: PrivacyRecords, customer_id: str) -> Holdings:
    found = Holdings(keys.find(customer_id))
    for account_id, state in records.openings():
        recorded = state["fact"].get("data", {}).get("customer_id")
        if found.key_id is not None and sealed_key(recorded) == found.key_id:
            found.sealed.append(account_id)
        elif not is_sealed(recorded) and recorded == customer_id:
            found.plain.append(account_id)
    return found


def forget(
    keys: KeyRing, records: PrivacyRecords, customer_id: str, actor: str, actor_key: str, reason: str
) -> dict[str, Any]:
    """Record the forget (who, why) and delete the customer's key: their sealed values can never be opened again."""
    return forget_held(keys, records, holdings(keys, records, customer_id), actor, actor_key, reason)


def forget_held(
    keys: KeyRing, records: PrivacyRecords, held: Holdings, actor: str, actor_key: str, reason: str
) -> dict[str, Any]:
    """Forget the customer whose holdings these are (a request's `forget`, or the retention sweep's).

    Refused before anything is recorded when there is no forget list to re-apply it after a restore.
    """
    keys.forgotten.require()
    if held.key_id is None:
        raise NothingToForget("no personal data key for this customer: never seen, or forgotten already")
    sealed_reason = keys.system().seal(reason, f"forget\x00{held.key_id}")
    recorded = records.record_forget(held.key_id, actor, actor_key, sealed_reason, sorted(held.sealed))
    deleted = keys.forget(held.key_id)
    return {
        "key_id": held.key_id,
        "accounts": sorted(held.sealed),
        "recorded": recorded,
        "key_deleted": deleted,
        "unsealed_accounts": held.plain,
    }


def export(
    holding: Holdings, histories: Iterator[tuple[str, list[dict[str, Any]]]], read_models: dict[str, Any]
) -> dict[str, Any]:
    """What the engine holds on one customer, sealed values still sealed (the caller reveals it)."""
    accounts = []
    for account_id, states in histories:
        accounts.append(
            {
                "account_id": account_id,
                "facts": [state["fact"] for state in states],
                "decisions": [decision for state in states for decision in state.get("decisions", ())],
                "read_models": read_models.get(account_id, {}),
            }
        )
    return {
        "key_id": holding.key_id,
        "accounts": accounts,
        "recorded_before_sealing": holding.plain,
    }
