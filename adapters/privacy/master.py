"""Master keys: from configuration (`FENGKONG_MASTER_KEY`, or a key file), never from code.

The current master key wraps every new data key; previous ones (still
configured while a rotation runs) unwrap what they wrapped. A key file holds
one base64url key per line, the current one first. The embedded store works
out of the box: without a configured key, a SQLite store gets a key file of
its own beside it (`<store>.master-key`, owner-only), created once, and the
process says so on stderr. A PostgreSQL store needs one configured: its
database and its backups must never hold the key that opens them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from adapters.privacy.crypto import MasterKey, SealError
from adapters.store.urls import is_postgres, sqlite_path


class PrivacyConfigError(ValueError):
    """Personal data cannot be sealed or read with the configuration given (one line for the operator)."""


def default_key_file(store: str) -> Path | None:
    """Where a SQLite store's own master key lives (None for PostgreSQL: it must be configured)."""
    if is_postgres(store):
        return None
    path = sqlite_path(store)
    return path.with_name(f"{path.stem}.master-key")


def read_key_file(path: Path) -> list[MasterKey]:
    lines = [line.strip() for line in path.read_text(encoding="ascii").splitlines()]
    keys = [MasterKey.parse(line) for line in lines if line and not line.startswith("#")]
    if not keys:
        raise SealError(f"{path} holds no master key")
    return keys


def write_key_file(path: Path, keys: list[MasterKey]) -> None:
    """Replace the key file atomically, owner-only (rename over it: a reader sees the old or the new file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write("# fengkong master keys for personal data: the first one is current. Keep apart from the store.\n")
        out.writelines(f"{key.text}\n" for key in keys)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def create_key_file(path: Path) -> bool:
    """Create the file with a new key unless it exists (two processes racing: one creates it); True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write("# fengkong master keys for personal data: the first one is current. Keep apart from the store.\n")
        out.write(f"{MasterKey.new().text}\n")
    return True


@dataclass
class MasterKeys:
    """The configured master keys; a key file is read again when it changed (a rotation while running)."""

    configured: list[MasterKey]
    file: Path | None = None
    _seen: float = field(default=0.0, repr=False)
    _from_file: list[MasterKey] = field(default_factory=list, repr=False)

    @property
    def keys(self) -> list[MasterKey]:
        return self.configured or self._from_file

    @property
    def current(self) -> MasterKey:
        self.refresh()
        return self.keys[0]

    def refresh(self) -> None:
        """Read the key file again if it changed since it was read (cheap: one stat)."""
        if self.configured or self.file is None:
            return
        try:
            changed = self.file.stat().st_mtime_ns
        except FileNotFoundError:
            raise PrivacyConfigError(f"the master key file {self.file} is gone") from None
        if changed != self._seen or not self._from_file:
            self._from_file = read_key_file(self.file)
            self._seen = changed


def master_keys(store: str, key: str | None, previous: str | None, key_file: str | None) -> MasterKeys:
    """The master keys the settings name: the key (and previous ones) given, else a key file."""
    try:
        if key:
            configured = [MasterKey.parse(key)] + [MasterKey.parse(k) for k in (previous or "").split(",") if k.strip()]
            return MasterKeys(configured)
        path = Path(key_file) if key_file else default_key_file(store)
        if path is None:
            raise PrivacyConfigError(
                "a PostgreSQL store needs a master key for personal data: set FENGKONG_MASTER_KEY "
                "(or FENGKONG_MASTER_KEY_FILE); `fengkong privacy new-master-key` prints a new one"
            )
        if not key_file and create_key_file(path):
            print(
                f"note: created the master key for personal data at {path} (owner-only); "
                "back it up apart from the store, which cannot be read without it",
                file=sys.stderr,
            )
        if not path.exists():
            raise PrivacyConfigError(f"no master key file {path}")
        keys = MasterKeys([], path)
        keys.refresh()
        return keys
    except SealError as error:
        raise PrivacyConfigError(f"master key: {error}") from None
