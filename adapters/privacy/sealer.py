"""The engine's `PersonalData` port, implemented: personal fields sealed under their customer's key.

Keys are fetched (and new customers' keys created) once per batch in
`prepare`, and kept for that batch only, so a forget takes effect from the
next batch of every worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from adapters.privacy.crypto import DataKey
from adapters.privacy.keyring import KeyRing
from adapters.store.availability import connection_lost
from adapters.store.readers import PrivacyRecords
from engine.personal import Owner
from events.inbound import AccountOpened, DayClosed, ParsedEvent
from events.operator import recorded_form
from events.personal import FORGOTTEN_TOKEN, has_personal, is_sealed, personal_paths, value_at, with_values


class Sealer:
    """Seals parsed events for the engine (engine.personal.PersonalData)."""

    def __init__(self, open_keys: Callable[[], KeyRing]) -> None:
        self._open_keys = open_keys
        self._keys: KeyRing | None = None
        self._customers: dict[str, DataKey] = {}
        self._ids: dict[str, DataKey | None] = {}

    @property
    def keys(self) -> KeyRing:
        """The key ring, opened on first use (an engine that only reads never opens it)."""
        if self._keys is None:
            self._keys = self._open_keys()
        return self._keys

    def prepare(self, owners: Iterable[Owner]) -> None:
        customers: set[str] = set()
        key_ids: set[str] = set()
        for owner in owners:
            if owner.key_id is not None:
                key_ids.add(owner.key_id)
            elif owner.customer_id is not None:
                customers.add(owner.customer_id)
        if not customers and not key_ids:
            self._customers, self._ids = {}, {}
            return
        try:
            self._fetch(customers, key_ids)
        except connection_lost():  # the database restarted under a long-lived worker: open the key ring again, once
            self.close()
            self._fetch(customers, key_ids)

    def _fetch(self, customers: set[str], key_ids: set[str]) -> None:
        self._customers = self.keys.for_customers(customers) if customers else {}
        self._ids = {key.key_id: key for key in self._customers.values()}
        if key_ids - set(self._ids):
            found = self.keys.by_ids(key_ids - set(self._ids))
            self._ids.update({key_id: found.get(key_id) for key_id in key_ids - set(self._ids)})

    def _key(self, owner: Owner) -> DataKey | None:
        if owner.key_id is not None:
            if owner.key_id not in self._ids:
                self._ids[owner.key_id] = self.keys.by_ids([owner.key_id]).get(owner.key_id)
            return self._ids[owner.key_id]
        assert owner.customer_id is not None
        if owner.customer_id not in self._customers:
            self._customers.update(self.keys.for_customers([owner.customer_id]))
        return self._customers[owner.customer_id]

    def seal(self, item: ParsedEvent, owner: Owner) -> ParsedEvent:
        return sealed_with(item, self._key(owner))

    def close(self) -> None:
        if self._keys is not None:
            self._keys.close()
            self._keys = None


def sealed_with(item: ParsedEvent, key: DataKey | None) -> ParsedEvent:
    """`item` with its personal fields sealed under `key` (None: the customer was forgotten)."""
    event = item.event
    updates = {}
    for path in personal_paths(type(event)):
        value = value_at(event, path)
        if value is None or is_sealed(value):
            continue
        context = f"{event.event_id}\x00{'.'.join(path)}"
        updates[path] = FORGOTTEN_TOKEN if key is None else key.seal(value, context)
    if not updates:
        return item
    sealed = with_values(event, updates)
    canonical, digest = recorded_form(sealed)  # an operator's action keeps its digest without its time
    return ParsedEvent(sealed, canonical.decode(), digest)


class RecordedDigests:
    """The digest the store recorded an event under, computed again from the event as it came (reconcile).

    An event is sealed as its account's recorded opening says: under the key its customer id was sealed
    under, or plain when the opening was recorded before sealing existed. It seals with the keys the store
    holds and never creates one; None when that key was deleted (the customer forgotten) or the opening
    arrived after the forget: its personal fields can no longer be compared.
    """

    def __init__(self, keys: KeyRing, records: PrivacyRecords) -> None:
        self.keys = keys
        self.records = records
        self._owners: dict[str, Owner | None] = {}

    def _owner(self, event: Any) -> Owner | None:
        """Whose key sealed the account's events (None: the account is not in the store)."""
        if event.account_id not in self._owners:
            opening = self.records.opening(event.account_id)
            recorded = opening["fact"]["data"].get("customer_id") if opening else None
            self._owners[event.account_id] = None if recorded is None else Owner.of_customer(recorded)
        owner = self._owners[event.account_id]
        if owner is None and isinstance(event, AccountOpened):  # indexed, its fact not on its stream
            key_id = self.keys.find(event.data.customer_id)
            return Owner(key_id=key_id) if key_id else None
        return owner

    def __call__(self, item: ParsedEvent) -> bytes | None:
        event = item.event
        if isinstance(event, DayClosed) or not has_personal(event):
            return item.digest
        owner = self._owner(event)
        if owner is None:
            return item.digest  # never recorded sealed: an unknown account
        if owner.key_id is None:  # an account recorded before sealing, or opened after its customer was forgotten
            return None if is_sealed(owner.customer_id) else item.digest
        key = self.keys.by_ids([owner.key_id]).get(owner.key_id)
        return None if key is None else sealed_with(item, key).digest
