"""The key table `fengkong_privacy_keys`, in the store's database: one wrapped data key per customer.

A row holds a key id, the lookup of its customer (an HMAC of the customer id
under the system key: the table never holds a customer id), the id of the
master key that wrapped it and the wrapped key. Forgetting a customer deletes
the row: what was sealed under that key can never be opened again. The system
key (the row with id `SYSTEM_KEY_ID`, no customer) computes lookups and seals
operators' free text that belongs to no customer (a forget's reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from adapters.store.tables import ProjectionDatabase

KEYS_TABLE = "fengkong_privacy_keys"
SYSTEM_KEY_ID = "0" * 16
_CHUNK = 500

Row = tuple[str, str | None, str, str]  # key id, lookup, master id, wrapped key


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class KeyTable:
    """The SQL of the key table on one connection (SQLite or PostgreSQL)."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def prepare(self) -> None:
        with self.db.write():
            self.db.serialize_ddl()
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key_id TEXT PRIMARY KEY, lookup TEXT UNIQUE, "
                "master_id TEXT NOT NULL, wrapped TEXT NOT NULL, created_at TEXT NOT NULL)"
            )

    def by_ids(self, key_ids: Iterable[str]) -> list[Row]:
        found: list[Row] = []
        for chunk in _chunks(sorted(set(key_ids))):
            found += self.db.query(
                f"SELECT key_id, lookup, master_id, wrapped FROM {KEYS_TABLE} "
                f"WHERE key_id IN ({', '.join('?' * len(chunk))})",
                list(chunk),
            )
        return found

    def by_lookups(self, lookups: Iterable[str]) -> list[Row]:
        found: list[Row] = []
        for chunk in _chunks(sorted(set(lookups))):
            found += self.db.query(
                f"SELECT key_id, lookup, master_id, wrapped FROM {KEYS_TABLE} "
                f"WHERE lookup IN ({', '.join('?' * len(chunk))})",
                list(chunk),
            )
        return found

    def insert(self, rows: Sequence[Row]) -> None:
        """Insert keys; a lookup (or id) another process inserted first is kept, this one dropped."""
        if not rows:
            return
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.write():
            self.db.executemany(
                f"INSERT INTO {KEYS_TABLE} (key_id, lookup, master_id, wrapped, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(*row, now) for row in rows],
            )

    def delete(self, key_ids: Iterable[str]) -> int:
        deleted = 0
        with self.db.write():
            for chunk in _chunks(sorted(set(key_ids))):
                deleted += self.db.execute(
                    f"DELETE FROM {KEYS_TABLE} WHERE key_id IN ({', '.join('?' * len(chunk))})", list(chunk)
                )
        return deleted

    def page(self, after: str, limit: int) -> list[Row]:
        """Keys in id order after `after` (rotation reads the table a page at a time)."""
        return self.db.query(
            f"SELECT key_id, lookup, master_id, wrapped FROM {KEYS_TABLE} WHERE key_id > ? ORDER BY key_id LIMIT ?",
            [after, limit],
        )

    def rewrap(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """(key id, expected master id, new master id, new wrapped key): only rows still as read change."""
        with self.db.write():
            for key_id, old_master, new_master, wrapped in rows:
                self.db.execute(
                    f"UPDATE {KEYS_TABLE} SET master_id = ?, wrapped = ? WHERE key_id = ? AND master_id = ?",
                    [new_master, wrapped, key_id, old_master],
                )

    def count_by_master(self) -> dict[str, int]:
        rows = self.db.query(f"SELECT master_id, count(*) FROM {KEYS_TABLE} GROUP BY master_id")
        return {str(master): int(count) for master, count in rows}
