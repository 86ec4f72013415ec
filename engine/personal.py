"""The engine's port to personal data: events are sealed before they are decided and recorded.

The engine holds no key and encrypts nothing: an adapter (adapters.privacy,
wired in adapters.bootstrap) implements `PersonalData`. The engine tells it
whose event it is — the customer named by an `AccountOpened`, or the owner
recorded by the account's own opening — and gets the event back with every
personal field sealed and its deduplication digest computed over that sealed
form. So decisions, stored facts and everything read from them see only
sealed values, and no rule can depend on a personal value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from events.inbound import ParsedEvent
from events.personal import sealed_key


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose key seals an event: a key id (recorded by the account's opening) or, before one exists, a customer id."""

    key_id: str | None = None
    customer_id: str | None = None

    @classmethod
    def of_customer(cls, recorded: str) -> Owner:
        """The owner an account's recorded customer id names: its key when sealed, else the plain id (legacy)."""
        key_id = sealed_key(recorded)
        return cls(key_id=key_id) if key_id is not None else cls(customer_id=recorded)


class PersonalData(Protocol):
    """Seals the personal fields of parsed events under their owner's key."""

    def prepare(self, owners: Iterable[Owner]) -> None:
        """Have these owners' keys at hand for a batch (a new customer's key is created): one round trip."""

    def seal(self, item: ParsedEvent, owner: Owner) -> ParsedEvent:
        """`item` with its personal fields sealed under `owner`'s key and its digest over the sealed form.

        An owner whose key was deleted (forgotten) gets the fields stored as forgotten.
        """

    def close(self) -> None:
        """Let go of what the keys were read from (the engine closes)."""
