"""API keys and roles: who holds a key, what the key's role allows, and the rules for managing keys.

A key is `fk_` and 32 random bytes (base64url), made by `secrets`. The store
keeps only its SHA-256 digest: a key is a high-entropy random token, not a
password a person chose, so it cannot be guessed from its digest and a slow
password hash (argon2, bcrypt) would buy nothing but a slow lookup on every
request. A plain digest lets the API find the key by an indexed equality
(what GitHub and Stripe do with their tokens); it needs no server-side
secret to manage. Keys are shown once, when created.

Roles are ordered; each includes the ones below it:
`metrics` (scrape /metrics only, for Prometheus) < `analyst` (read
everything) < `operator` (act: reviews, held locks, undo) < `admin` (manage
keys; later policies and calendars). The first key of a store needs no
actor and must be an admin key; after that only an admin creates or
revokes keys, and the last admin key in force cannot be revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from adapters.store.keys import KeyStore, StoredKey

PREFIX = "fk_"
NAME_LIMIT = 64
BOOTSTRAP_ACTOR = "(first key)"


class Role(StrEnum):
    METRICS = "metrics"
    ANALYST = "analyst"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def level(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        return self.level >= other.level


class AccessRefused(Exception):
    """A request without the right to what it asked; `status` is its HTTP answer."""

    status = 401


class NotAuthenticated(AccessRefused):
    """No key, an unknown key or a revoked key."""


class NotAllowed(AccessRefused):
    """A valid key whose role is below what was asked."""

    status = 403


class KeyRefused(ValueError):
    """A key management request that cannot be carried out (unknown key, name taken, last admin)."""


@dataclass(frozen=True)
class Principal:
    """Who a valid key belongs to."""

    key_id: str
    name: str
    role: Role


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_LIMIT or not name.isprintable():
        raise KeyRefused(f"name: 1 to {NAME_LIMIT} printable characters")
    return name


class Keys:
    """Authentication, authorisation and key management over the store's `fengkong_keys`."""

    def __init__(self, store: KeyStore, now: Callable[[], str] = _now) -> None:
        self.store = store
        self.now = now

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise NotAuthenticated("an API key is required")
        return self.authenticate_digest(digest(key))

    def authenticate_digest(self, key_digest: str) -> Principal:
        """The holder of the key with this digest (a console session keeps the digest, never the key)."""
        found = self.store.by_digest(key_digest)
        if found is None or not found.active:
            raise NotAuthenticated("the API key is unknown or revoked")
        return Principal(found.id, found.name, Role(found.role))

    def authorize(self, key: str | None, needed: Role) -> Principal:
        return self.allow(self.authenticate(key), needed)

    @staticmethod
    def allow(principal: Principal, needed: Role) -> Principal:
        if not principal.role.includes(needed):
            raise NotAllowed(f"this needs the {needed} role; the key has {principal.role}")
        return principal

    def create(
        self, role: Role, name: str, actor: str | None, *, if_none: bool = False
    ) -> tuple[StoredKey, str] | None:
        """A new key and its secret (shown once); None if `if_none` and the store has keys already.

        The first key of a store needs no actor and must be an admin key; then only an admin creates keys.
        """
        name = _valid_name(name)
        with self.store.transaction():
            empty = self.store.count() == 0
            if if_none and not empty:
                return None
            if empty:
                if role is not Role.ADMIN:
                    raise KeyRefused("the store has no key yet: its first key must be an admin key (--role admin)")
                created_by = BOOTSTRAP_ACTOR
            else:
                created_by = self.authorize(actor, Role.ADMIN).name
            if self.store.by_reference(name) is not None:
                raise KeyRefused("a key in force already has this name: revoke it first, or choose another name")
            secret = new_key()
            key = StoredKey(secrets.token_hex(6), name, role.value, self.now(), created_by, None, None)
            self.store.insert(key, digest(secret))
        return key, secret

    def revoke(self, reference: str, actor: str | None) -> StoredKey:
        """Revoke the key with this id or (in force) name; the last admin key in force stays."""
        with self.store.transaction():
            by = self.authorize(actor, Role.ADMIN).name
            found = self.store.by_reference(reference)
            if found is None:
                raise KeyRefused("no key has this id, and no key in force has this name")
            if not found.active:
                raise KeyRefused(f"key {found.id} is revoked already")
            if found.role == Role.ADMIN and self.store.count_active(Role.ADMIN) == 1:
                raise KeyRefused("this is the last admin key in force: create another admin key before revoking it")
            self.store.revoke(found.id, self.now(), by)
            revoked = self.store.by_reference(found.id)
        assert revoked is not None
        return revoked

    def list(self, actor: str | None) -> list[StoredKey]:
        """Every key ever created (never the keys themselves); an admin's question, except on a store without keys."""
        if self.store.count() == 0:
            return []
        self.authorize(actor, Role.ADMIN)
        return self.store.all()
