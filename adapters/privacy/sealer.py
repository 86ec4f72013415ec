"""The engine's `PersonalData` port, implemented: personal fields sealed under their customer's key.

Keys are fetched (and new customers' keys created) once per batch in
`prepare`, and kept for that batch only, so a forget takes effect from the
next batch of every worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from adapters.privacy.crypto import DataKey
from adapters.privacy.keyring import KeyRing
from engine.personal import Owner
from events.inbound import ParsedEvent, payload_digest
from events.personal import FORGOTTEN_TOKEN, is_sealed, personal_paths, value_at, with_values


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
        event = item.event
        key = self._key(owner)
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
        canonical = sealed.model_dump_json()
        return ParsedEvent(sealed, canonical, payload_digest(canonical))
