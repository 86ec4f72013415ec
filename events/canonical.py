"""The canonical JSON of a contract model: byte for byte what pydantic's `model_dump_json` writes, via orjson.

Every inbound event is written in canonical form once on its way in (it is
what the store embeds and what its deduplication digest covers), and once
more when its personal fields are sealed. Pydantic's serializer calls back
into Python for every amount, date and time (their `PlainSerializer`s), which
made it a third of the cost of parsing an event. Here each model's fields are
read once, at first use, into a plan: a plain dict in field order, amounts
turned into their text (`str`, as the serializer does), dates and times left
to orjson, which writes them as `isoformat()` does (RFC 3339, microseconds
only when there are any, the offset as +HH:MM), and strings escaped as
pydantic escapes them (UTF-8 kept, control characters as \\u00XX). The
property tests compare both on every event the contract's schema generates.

A model with a field this module cannot write exactly raises TypeError when
its plan is made, rather than a canonical form coming out different.
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, PlainSerializer

Convert = Callable[[Any], Any]

DIGEST_BYTES = 16

# The serializers of events.types, and what orjson needs for the same text (None: the value as it is).
_WRITTEN_AS: dict[Callable[..., Any], Convert | None] = {
    str: str,  # Money: str(Decimal)
    date.isoformat: None,  # orjson writes a date as YYYY-MM-DD
    datetime.isoformat: None,  # orjson writes an aware datetime as isoformat() does
}


def canonical_bytes(model: BaseModel) -> bytes:
    """`model.model_dump_json()`, encoded as UTF-8."""
    return orjson.dumps(plan(type(model))(model))


def canonical_and_digest(model: BaseModel) -> tuple[str, bytes]:
    """The canonical JSON and its payload digest, encoded once."""
    data = canonical_bytes(model)
    return data.decode(), payload_digest(data)


def payload_digest(canonical: bytes) -> bytes:
    """The first 16 bytes of the canonical payload's SHA-256: what deduplication compares.

    A check that a repeated `event_id` carries the same payload, not a
    signature: 128 bits make an accidental match between two payloads of one
    `event_id` practically impossible, at a quarter of the hex digest's bytes
    in the store's deduplication table.
    """
    return hashlib.sha256(canonical).digest()[:DIGEST_BYTES]


@cache
def plan(model: type[BaseModel]) -> Callable[[BaseModel], dict[str, Any]]:
    """A function from an instance of `model` to the dict orjson writes as its canonical JSON."""
    decorators = model.__pydantic_decorators__
    if (
        model.__pydantic_root_model__
        or model.model_computed_fields
        or decorators.field_serializers
        or decorators.model_serializers
    ):
        raise TypeError(f"{model.__name__}: not a plain model; write it with model_dump_json")
    names = tuple(model.model_fields)
    for name, info in model.model_fields.items():
        if info.serialization_alias is not None or info.alias is not None or info.exclude:
            raise TypeError(f"{model.__name__}.{name}: aliased or excluded field")
    conversions = [
        (name, convert)
        for name, info in model.model_fields.items()
        if (convert := _converter(model, name, info.annotation, info.metadata)) is not None
    ]

    def to_dict(instance: BaseModel) -> dict[str, Any]:
        values = instance.__dict__
        out = {name: values[name] for name in names}
        for name, convert in conversions:
            value = out[name]
            if value is not None:
                out[name] = convert(value)
        return out

    return to_dict


def _converter(model: type[BaseModel], name: str, annotation: Any, metadata: list[Any]) -> Convert | None:
    """What turns a field's value into what orjson writes as pydantic would (None: the value as it is)."""
    serializers = [m.func for m in metadata if isinstance(m, PlainSerializer)]
    if serializers:
        if len(serializers) > 1 or serializers[0] not in _WRITTEN_AS:
            raise TypeError(f"{model.__name__}.{name}: no canonical writing for {serializers}")
        return _WRITTEN_AS[serializers[0]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return plan(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        item = plan(args[0])
        return lambda values: [item(value) for value in values]
    if origin in (typing.Union, types.UnionType):  # X | None: None stays, X is written as itself
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            inner_metadata = list(getattr(inner[0], "__metadata__", ()))
            base = typing.get_args(inner[0])[0] if inner_metadata else inner[0]
            return _converter(model, name, base, inner_metadata)
    base = typing.get_args(annotation)[0] if hasattr(annotation, "__metadata__") else annotation
    if base in (str, int, bool) or typing.get_origin(base) is typing.Literal:
        return None
    raise TypeError(f"{model.__name__}.{name}: no canonical writing for {annotation!r}")
