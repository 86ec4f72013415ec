"""Personal data in the contract: which fields hold it, and how a sealed value is written.

A field is personal when its type carries `events.types.PERSONAL` (phone,
card reference, customer id, the reviewer and every free-text field). The
engine never stores such a value as it came: an adapter seals it under its
customer's key before the event is decided and recorded, and the stored fact,
the read models and the dead letters hold the sealed form, a token

    "\\x1fpd1.<key id>.<base64url of nonce and ciphertext>\\x1f"

Inbound text can never hold the control character U+001F (contract 1.1
refuses category Cc), so a reader tells a sealed value from a plain one (a
fact recorded before sealing existed) by its first character alone. A value
that arrived after its customer was forgotten is stored as `FORGOTTEN_TOKEN`.
Nothing here encrypts: this module only knows the shapes (no keys, no I/O).
"""

from __future__ import annotations

import re
import types
import typing
from copy import copy
from functools import cache
from typing import Any

from pydantic import BaseModel

from events.types import PERSONAL

MARK = "\x1f"
PREFIX = f"{MARK}pd1."
FORGOTTEN = "forgotten"
"""What a reader shows in place of a value whose key was deleted."""
FORGOTTEN_TOKEN = f"{PREFIX}{FORGOTTEN}{MARK}"
"""The stored form of a personal value that arrived after its customer was forgotten."""
TOKEN = re.compile(r"\x1fpd1\.(?:([0-9a-f]{16})\.([A-Za-z0-9_-]+)|forgotten)\x1f")
"""A sealed value, inside any text (a read model's sentence holds them as they were stored)."""
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_set = object.__setattr__

Path = tuple[str, ...]


def is_sealed(value: object) -> bool:
    """Whether a stored personal value is sealed (or forgotten), rather than plain text recorded before sealing."""
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_key(value: object) -> str | None:
    """The id of the key a sealed value was sealed under (None: plain text, or forgotten on arrival)."""
    if not isinstance(value, str) or not is_sealed(value):
        return None
    found = TOKEN.fullmatch(value)
    return found.group(1) if found else None


def token(key_id: str, sealed: str) -> str:
    """A sealed value as stored: its key id and its (base64url) nonce and ciphertext."""
    return f"{PREFIX}{key_id}.{sealed}{MARK}"


def _carries_mark(annotation: Any, metadata: list[Any]) -> bool:
    if PERSONAL in metadata:
        return True
    if PERSONAL in getattr(annotation, "__metadata__", ()):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_carries_mark(arg, []) for arg in typing.get_args(annotation))
    return False


@cache
def personal_paths(model: type[BaseModel]) -> tuple[Path, ...]:
    """Where `model` holds personal values: paths of field names (nested models followed)."""
    found: list[Path] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if _carries_mark(annotation, list(info.metadata)):
            found.append((name,))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += [(name, *inner) for inner in personal_paths(annotation)]
        else:
            items = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            if any(personal_paths(item) for item in items):
                raise TypeError(f"{model.__name__}.{name}: personal fields inside a list or union are not sealed")
    return tuple(found)


def value_at(model: BaseModel, path: Path) -> Any:
    value: Any = model
    for name in path:
        value = getattr(value, name)
    return value


def with_values(model: BaseModel, values: dict[Path, Any]) -> Any:
    """A copy of `model` with the values at these paths replaced (nothing validated: the values are sealed)."""
    direct = {path[0]: value for path, value in values.items() if len(path) == 1}
    nested: dict[str, dict[Path, Any]] = {}
    for path, value in values.items():
        if len(path) > 1:
            nested.setdefault(path[0], {})[path[1:]] = value
    for name, inner in nested.items():
        direct[name] = with_values(getattr(model, name), inner)
    # What model_copy(update=...) does, without its generic copying (every sealed event makes two of these).
    copied = type(model).__new__(type(model))
    _set(copied, "__dict__", {**model.__dict__, **direct})
    _set(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__ | direct.keys())
    _set(copied, "__pydantic_extra__", copy(model.__pydantic_extra__))
    _set(copied, "__pydantic_private__", copy(model.__pydantic_private__))
    return copied


def has_personal(model: BaseModel) -> bool:
    """Whether this event holds any personal value to seal (absent optional fields hold none)."""
    paths = personal_paths(type(model))
    return bool(paths) and any(value_at(model, path) is not None for path in paths)  # most types have none


def personal_names(models: typing.Iterable[type[BaseModel]]) -> frozenset[str]:
    """The names of every personal field of these models (the dead letters mask them wherever they appear)."""
    return frozenset(path[-1] for model in models for path in personal_paths(model))


def arrived_forgotten(model: BaseModel) -> bool:
    """Whether an event's personal values were stored as forgotten (its customer's key was deleted first)."""
    return any(value_at(model, path) == FORGOTTEN_TOKEN for path in personal_paths(type(model)))
