"""Showing personal data to those who may read it: sealed values opened, forgotten ones named so.

Read models, stored facts and dead letters hold sealed values (events.personal),
also inside sentences. Every way out to a person (the CLI, the HTTP API,
exports, `privacy export`) passes what it shows through `Revealer.reveal`:
each sealed value becomes its text while its key exists, and "forgotten"
once it was deleted. Keys are fetched once per call for every value in it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from adapters.privacy.crypto import DataKey, SealError
from adapters.privacy.keyring import KeyRing
from events.personal import FORGOTTEN, MARK, TOKEN

log = logging.getLogger(__name__)
UNREADABLE = "unreadable"
"""Shown for a sealed value that does not open (altered in the store, or its master key is missing)."""
T = TypeVar("T")


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if MARK in value:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for found in dataclasses.fields(value):
            yield from _texts(getattr(value, found.name))


class Revealer:
    """Opens sealed values with a key ring (keys cached for the revealer's life: one request or command).

    The key ring is opened when a sealed value is first met: plain rows need no key (nor a master key).
    `owned`: the revealer opened the ring's connection, and `close` closes it.
    """

    def __init__(self, keys: Callable[[], KeyRing], owned: bool = False) -> None:
        self._open_keys = keys
        self._keys: KeyRing | None = None
        self._owned = owned
        self._found: dict[str, DataKey | None] = {}

    @property
    def keys(self) -> KeyRing:
        if self._keys is None:
            self._keys = self._open_keys()
        return self._keys

    def close(self) -> None:
        if self._owned and self._keys is not None:
            self._keys.close()

    def _fetch(self, value: Any) -> None:
        wanted = {
            key_id
            for text in _texts(value)
            for match in TOKEN.finditer(text)
            if (key_id := match.group(1)) is not None and key_id not in self._found
        }
        if wanted:
            found = self.keys.by_ids(wanted)
            self._found.update({key_id: found.get(key_id) for key_id in wanted})

    def _open(self, match: Any) -> str:
        key_id, sealed = match.group(1), match.group(2)
        key = self._found.get(key_id) if key_id is not None else None
        if key is None:
            return FORGOTTEN
        try:
            return key.open(sealed)
        except SealError as error:
            log.warning("%s", error)
            return UNREADABLE

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return TOKEN.sub(self._open, value) if MARK in value else value
        if isinstance(value, dict):
            return {name: self._walk(item) for name, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item) for item in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(
                value, **{f.name: self._walk(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            )
        return value

    def reveal(self, value: T) -> T:
        """`value` (text, a row, rows, JSON) with every sealed value opened or named forgotten."""
        self._fetch(value)
        return self._walk(value)  # type: ignore[no-any-return]
