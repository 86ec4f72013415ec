"""The cryptography of personal data: AES-256-GCM from `cryptography`, HMAC-SHA256 from the standard library.

- A customer's data key (32 random bytes) gives two subkeys, one to encrypt
  and one to authenticate: `HMAC(data key, "enc")` and `HMAC(data key, "mac")`.
- A personal value is sealed deterministically: its nonce is the first 12
  bytes of `HMAC(mac key, event_id, field, value)`, its ciphertext AES-256-GCM
  under the encryption key with the key id as associated data. The same
  event sent again seals to the same bytes, so its deduplication digest
  (over the sealed form) is the same; a value enters that digest only through
  this HMAC and ciphertext, both under the customer's key, so once the key is
  deleted no guess of a phone number can be checked against it. The event id
  in the nonce keeps equal values of two events apart (nothing links them).
- A data key is stored wrapped: AES-256-GCM under a master key (a random
  nonce; the key id as associated data, so a wrapped key cannot be moved to
  another row), with the id of the master key that wrapped it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.personal import KEY_ID, token

KEY_BYTES = 32
NONCE_BYTES = 12
_SEAL_AD = b"fengkong-pd1|"
_WRAP_AD = b"fengkong-key1|"


class SealError(ValueError):
    """A key that cannot be used: malformed, or it does not open what it should (a wrong master key)."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_id() -> str:
    return secrets.token_hex(8)


def _subkey(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose, hashlib.sha256).digest()


@dataclass(frozen=True)
class DataKey:
    """One customer's key: seals and opens their personal values."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID.match(self.key_id) or len(self.secret) != KEY_BYTES:
            raise SealError("a data key is a 16-hex-digit id and 32 bytes")
        object.__setattr__(self, "_aead", AESGCM(_subkey(self.secret, b"enc")))
        object.__setattr__(self, "_mac", _subkey(self.secret, b"mac"))

    @classmethod
    def new(cls) -> DataKey:
        return cls(new_key_id(), os.urandom(KEY_BYTES))

    def seal(self, value: str, context: str) -> str:
        """The stored token of `value` (deterministic for one key, context and value)."""
        data = value.encode("utf-8")
        mac: bytes = self._mac  # type: ignore[attr-defined]
        nonce = hmac.new(mac, context.encode("utf-8") + b"\x00" + data, hashlib.sha256).digest()[:NONCE_BYTES]
        sealed = self._aead.encrypt(nonce, data, _SEAL_AD + self.key_id.encode())  # type: ignore[attr-defined]
        return token(self.key_id, b64(nonce + sealed))

    def open(self, sealed: str) -> str:
        """The value of a token's sealed part (base64url of nonce and ciphertext); SealError if it does not open."""
        raw = unb64(sealed)
        try:
            data = self._aead.decrypt(  # type: ignore[attr-defined]
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _SEAL_AD + self.key_id.encode()
            )
        except (InvalidTag, ValueError):
            raise SealError(f"a value sealed under key {self.key_id} does not open (altered?)") from None
        return bytes(data).decode("utf-8")


@dataclass(frozen=True)
class MasterKey:
    """A master key: wraps and unwraps data keys. Its id (a digest prefix) names it without revealing it."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise SealError("a master key is 32 bytes (base64url, 43 characters)")
        # Made once: every new customer's key is wrapped, every key read is unwrapped.
        object.__setattr__(self, "_aead", AESGCM(self.secret))
        object.__setattr__(self, "_id", hashlib.sha256(b"fengkong-master|" + self.secret).hexdigest()[:16])

    @classmethod
    def parse(cls, text: str) -> MasterKey:
        try:
            return cls(unb64(text.strip()))
        except (ValueError, TypeError):
            raise SealError("a master key is 32 bytes, base64url-encoded (43 characters)") from None

    @classmethod
    def new(cls) -> MasterKey:
        return cls(os.urandom(KEY_BYTES))

    @property
    def text(self) -> str:
        return b64(self.secret)

    @property
    def key_id(self) -> str:
        return self._id  # type: ignore[attr-defined,no-any-return]

    def wrap(self, key: DataKey) -> str:
        nonce = os.urandom(NONCE_BYTES)
        return b64(nonce + self._aead.encrypt(nonce, key.secret, _WRAP_AD + key.key_id.encode()))  # type: ignore[attr-defined]

    def unwrap(self, key_id: str, wrapped: str) -> DataKey:
        raw = unb64(wrapped)
        try:
            secret = self._aead.decrypt(  # type: ignore[attr-defined]
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _WRAP_AD + key_id.encode()
            )
        except (InvalidTag, ValueError):
            raise SealError(f"key {key_id} does not unwrap under master key {self.key_id}") from None
        return DataKey(key_id, secret)


def lookup(system: DataKey, customer_id: str) -> str:
    """How the key table finds a customer's key without holding the customer id: an HMAC under the system key."""
    return hmac.new(_lookup_key(system.secret), customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _lookup_key(system_secret: bytes) -> bytes:
    """The system key's lookup subkey, derived once (every new customer is looked up)."""
    return _subkey(system_secret, b"lookup")
