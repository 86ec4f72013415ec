"""API keys in the store's database: `fengkong_keys`, digests only, never the keys themselves.

One row per key ever created: a public id, its serial number (creation
order), the holder's name, the role, the
SHA-256 digest of the key (adapters.access.keys says why that digest) and
who created and revoked it when. A revoked key keeps its row, so `keys list`
shows the history and a name can be given to a new key after its old one is
revoked (unique among the keys in force). The table is created by the first
part that needs it (`prepare`: the API at start, `fengkong keys`), under the
same DDL serialisation as the read models' tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from adapters.store.tables import ProjectionDatabase

KEYS_TABLE = "fengkong_keys"
_COLUMNS = "id, name, role, created_at, created_by, revoked_at, revoked_by"


@dataclass(frozen=True)
class StoredKey:
    """A key's row without its digest."""

    id: str
    name: str
    role: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStore:
    """The SQL of `fengkong_keys` on one connection of the store's database (SQLite or PostgreSQL)."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def prepare(self) -> None:
        db = self.db
        with db.write():
            db.serialize_ddl()
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (id TEXT PRIMARY KEY, serial INTEGER NOT NULL UNIQUE, "
                "name TEXT NOT NULL, "
                "role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, "
                "created_by TEXT NOT NULL, revoked_at TEXT, revoked_by TEXT)"
            )
            db.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {KEYS_TABLE}_active_name ON {KEYS_TABLE} (name) "
                "WHERE revoked_at IS NULL"
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that holds the table against other writers from its start.

        SQLite's `BEGIN IMMEDIATE` already takes the database's write lock; PostgreSQL needs a
        table lock so that two "first key" creations cannot both see an empty table.
        """
        with self.db.write():
            if self.db.dialect == "postgresql":
                self.db.execute(f"LOCK TABLE {KEYS_TABLE} IN SHARE ROW EXCLUSIVE MODE")
            yield

    def count(self) -> int:
        """Keys ever created, revoked ones included."""
        return int(self.db.query(f"SELECT count(*) FROM {KEYS_TABLE}")[0][0])

    def count_active(self, role: str) -> int:
        found = self.db.query(f"SELECT count(*) FROM {KEYS_TABLE} WHERE role = ? AND revoked_at IS NULL", [role])
        return int(found[0][0])

    def by_digest(self, digest: str) -> StoredKey | None:
        found = self.db.query(f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE digest = ?", [digest])
        return StoredKey(*found[0]) if found else None

    def by_reference(self, reference: str) -> StoredKey | None:
        """The key with this id, else the key in force with this name."""
        found = self.db.query(f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE id = ?", [reference])
        if not found:
            found = self.db.query(
                f"SELECT {_COLUMNS} FROM {KEYS_TABLE} WHERE name = ? AND revoked_at IS NULL", [reference]
            )
        return StoredKey(*found[0]) if found else None

    def insert(self, key: StoredKey, digest: str) -> None:
        self.db.execute(
            f"INSERT INTO {KEYS_TABLE} (id, serial, name, role, digest, created_at, created_by) "
            f"SELECT ?, coalesce(max(serial), 0) + 1, ?, ?, ?, ?, ? FROM {KEYS_TABLE}",
            [key.id, key.name, key.role, digest, key.created_at, key.created_by],
        )

    def revoke(self, key_id: str, when: str, by: str) -> None:
        self.db.execute(
            f"UPDATE {KEYS_TABLE} SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
            [when, by, key_id],
        )

    def all(self) -> list[StoredKey]:
        return [StoredKey(*row) for row in self.db.query(f"SELECT {_COLUMNS} FROM {KEYS_TABLE} ORDER BY serial")]
