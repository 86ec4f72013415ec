"""Data keys over the key table: found, created, unwrapped, deleted, rewrapped; the forget list.

The forget list is a file outside the store (`<store>.forgotten` beside a
SQLite store by default, `FENGKONG_FORGET_LIST`), one key id per line,
appended before a key is deleted. Every opening of the key ring deletes the
keys it names again: a store restored from a backup taken before a forget
loses those keys the first time any part of fengkong opens it, so a
forgotten customer never comes back. The list holds key ids only (random,
naming no one). A PostgreSQL store with neither `FENGKONG_FORGET_LIST` nor a
master key file has no list: forgetting is refused there (a list written
wherever the operator stands would never be re-applied), and opening the key
ring finds nothing to delete again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from adapters.privacy.crypto import DataKey, SealError, lookup
from adapters.privacy.keystore import SYSTEM_KEY_ID, KeyTable, Row
from adapters.privacy.master import MasterKeys, PrivacyConfigError
from adapters.store.tables import ProjectionDatabase

log = logging.getLogger(__name__)

NO_FORGET_LIST = "forget_list: set FENGKONG_FORGET_LIST to a durable file outside the database's backups (PostgreSQL)"


class ForgetList:
    """Key ids of forgotten customers, in a file kept apart from the store (and from its backups).

    No path: none configured (PostgreSQL without a setting naming one); nothing can have been forgotten.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def require(self) -> Path:
        """The file a forget appends to; refused (one line naming the setting) when there is none."""
        if self.path is None:
            raise PrivacyConfigError(NO_FORGET_LIST)
        return self.path

    def ids(self) -> set[str]:
        if self.path is None or not self.path.exists():
            return set()
        return {line.strip() for line in self.path.read_text(encoding="ascii").splitlines() if line.strip()}

    def add(self, key_id: str) -> None:
        path = self.require()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="ascii") as out:
            out.write(f"{key_id}\n")
            out.flush()
            os.fsync(out.fileno())


class KeyRing:
    """Customers' data keys in the store, wrapped under the master keys."""

    def __init__(self, table: KeyTable, masters: Callable[[], MasterKeys], forgotten: ForgetList) -> None:
        self.table = table
        self._masters = masters
        self.forgotten = forgotten
        self._system: DataKey | None = None

    @property
    def masters(self) -> MasterKeys:
        """The master keys, read when a key is first wrapped or unwrapped (a reader of plain rows needs none)."""
        return self._masters()

    def open(self) -> KeyRing:
        """Create the table if missing and delete every key of the forget list (a restored backup's too)."""
        self.table.prepare()
        again = self.forgotten.ids()
        if again and (deleted := self.table.delete(again)):
            log.warning("deleted %d forgotten customers' keys again (a store restored from a backup?)", deleted)
        return self

    def close(self) -> None:
        self.table.db.close()

    # ------------------------------------------------------------ reading keys

    def _unwrap(self, row: Row) -> DataKey:
        return self._unwrap_all([row])[row[0]]

    def _unwrap_all(self, rows: Iterable[Row], known: Mapping[str, DataKey] | None = None) -> dict[str, DataKey]:
        """Each row's key by id; the master keys are looked up once, and a key in `known` (just made) is not
        unwrapped again."""
        masters = self.masters
        masters.refresh()
        by_id = {master.key_id: master for master in masters.keys}
        found: dict[str, DataKey] = {}
        for key_id, _, master_id, wrapped in rows:
            key = known.get(key_id) if known else None
            if key is None:
                master = by_id.get(master_id)
                if master is None:
                    raise SealError(f"key {key_id} is wrapped under master key {master_id}, which is not configured")
                key = master.unwrap(key_id, wrapped)
            found[key_id] = key
        return found

    def system(self) -> DataKey:
        """The store's system key (created on first use)."""
        if self._system is None:
            rows = self.table.by_ids([SYSTEM_KEY_ID])
            if not rows:
                key = DataKey(SYSTEM_KEY_ID, DataKey.new().secret)
                self.table.insert([(SYSTEM_KEY_ID, None, self.masters.current.key_id, self.masters.current.wrap(key))])
                rows = self.table.by_ids([SYSTEM_KEY_ID])
            self._system = self._unwrap(rows[0])
        return self._system

    def by_ids(self, key_ids: Iterable[str]) -> dict[str, DataKey]:
        """The keys that still exist among these ids (a missing one was forgotten)."""
        return self._unwrap_all(self.table.by_ids(key_ids))

    def existing(self, key_ids: Iterable[str]) -> set[str]:
        """The ids among these whose keys still exist (nothing unwrapped)."""
        return {row[0] for row in self.table.by_ids(key_ids)}

    def lookup(self, customer_id: str) -> str:
        return lookup(self.system(), customer_id)

    def find(self, customer_id: str) -> str | None:
        """The id of a customer's key, if they have one."""
        rows = self.table.by_lookups([self.lookup(customer_id)])
        return rows[0][0] if rows else None

    def for_customers(self, customer_ids: Iterable[str]) -> dict[str, DataKey]:
        """Each customer's key, created for those who have none (two writers racing: the first one stays)."""
        lookups = {self.lookup(customer): customer for customer in set(customer_ids)}
        if not lookups:
            return {}
        rows = self.table.by_lookups(lookups)
        missing = set(lookups) - {row[1] for row in rows}
        made: dict[str, DataKey] = {}
        if missing:
            master = self.masters.current
            new = []
            for wanted in sorted(missing):
                key = DataKey.new()
                made[key.key_id] = key
                new.append((key.key_id, wanted, master.key_id, master.wrap(key)))
            self.table.insert(new)
            rows += self.table.by_lookups(missing)  # whichever key of a lookup got in first (another writer's?)
        keys = self._unwrap_all(rows, made)
        return {lookups[str(row[1])]: keys[row[0]] for row in rows}

    # ------------------------------------------------------------ forgetting

    def forget(self, key_id: str) -> bool:
        """Delete a key for good: on the forget list first (a crash between still ends deleted)."""
        self.forgotten.add(key_id)
        return self.table.delete([key_id]) > 0

    # ------------------------------------------------------------ master key rotation

    def rewrap(self, page: int = 500) -> int:
        """Wrap every key not under the current master key under it again, a page per transaction."""
        current = self.masters.current
        moved, after = 0, ""
        while rows := self.table.page(after, page):
            changes = [
                (row[0], row[2], current.key_id, current.wrap(self._unwrap(row)))
                for row in rows
                if row[2] != current.key_id
            ]
            self.table.rewrap(changes)
            moved += len(changes)
            after = rows[-1][0]
        self._system = None
        return moved


class KeyRings:
    """Key rings over the store's connections, sharing one configuration (master keys read once, when needed)."""

    def __init__(self, masters: Callable[[], MasterKeys], forgotten: ForgetList) -> None:
        self._masters = masters
        self._loaded: MasterKeys | None = None
        self.forgotten = forgotten

    @property
    def masters(self) -> MasterKeys:
        if self._loaded is None:
            self._loaded = self._masters()
        return self._loaded

    def on(self, db: ProjectionDatabase) -> KeyRing:
        """A key ring on a connection someone else owns (an API request's); its table exists already."""
        return KeyRing(KeyTable(db), lambda: self.masters, self.forgotten)

    def open(self, db: ProjectionDatabase) -> KeyRing:
        """A key ring on its own connection: its table created if missing, forgotten keys deleted again."""
        return KeyRing(KeyTable(db), lambda: self.masters, self.forgotten).open()
