"""What a dead letter keeps of a refused message: its personal data masked, and a digest to pair it by.

A refused message may hold personal data anywhere (it broke the contract, so
nothing about it can be trusted). Its dead letter keeps it masked: in a JSON
message the value of every personal field name of the contract becomes
`***` wherever it appears, and in any text a run of digits long enough to be
a phone or card number keeps only its last 4 digits (as in the logs,
adapters.runtime.logging). Masking is deterministic and idempotent, so
reconcile masks each message that came in and compares the digest of that
with the letter's, by source position (`letter_digest`). A refused event the
engine could seal also keeps its sealed form, which an operator may reveal
and replay while its customer's key exists.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from adapters.runtime.logging import PERSONAL_FIELDS, mask

HIDDEN = "***"


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: HIDDEN if key in PERSONAL_FIELDS and item is not None else _masked(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, str):
        return mask(value)
    return value


def mask_payload(raw: bytes | str) -> bytes:
    """The message with its personal data masked (JSON stays JSON; anything else is masked as text)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return mask(data.decode("utf-8", "replace")).encode("utf-8")
    return orjson.dumps(_masked(parsed))


def letter_digest(raw: bytes | str) -> str:
    """The digest a dead letter is paired by: SHA-256 of the masked message (hex, 32 digits)."""
    return hashlib.sha256(mask_payload(raw)).hexdigest()[:32]
