"""Contract models rebuilt from their canonical JSON, without validating them again.

Every fact the store holds was validated on its way in and recorded as the
model's own JSON (`model_dump_json`). Reading it back (loading an account,
audit replay, projection rebuilds) validated it again, which cost about as
much as the rest of the replay. For such JSON the values need only turning
back into their types (amounts into Decimal, dates and times from ISO text,
nested blocks into their models); this module derives that conversion from
each model's fields and builds the instance as `model_construct` does.

Use it only for JSON a model wrote; anything from outside goes through
`events.inbound.validate_event`. A model whose fields this module cannot
convert exactly makes the import fail, rather than a replay go wrong.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, PlainValidator

from events.types import (
    parse_date,
    parse_event_time,
    parse_money,
    parse_strict_bool,
    parse_strict_int,
    parse_timezone,
)

Convert = Callable[[Any], Any]
Build = Callable[[dict[str, Any]], Any]

# What each value type's validator returns for the text its serializer wrote.
_FROM_CANONICAL: dict[Callable[[Any], Any], Convert | None] = {
    parse_money: Decimal,  # str(Decimal) -> the same Decimal, exponent included
    parse_date: date.fromisoformat,
    parse_event_time: datetime.fromisoformat,  # isoformat() text: offset included, no lower-case letters
    parse_timezone: None,
    parse_strict_int: None,
    parse_strict_bool: None,
}
_set = object.__setattr__


def constructor(model: type[BaseModel]) -> Build:
    """A function from `model`'s canonical JSON (parsed) to the instance that validation would give."""
    if model.__pydantic_root_model__ or model.__pydantic_post_init__ or model.__private_attributes__:
        raise TypeError(f"{model.__name__}: not a plain model; rebuild it with model_validate")
    names = tuple(model.model_fields)
    conversions: list[tuple[str, Convert]] = []
    for name, info in model.model_fields.items():
        convert = _converter(model, name, info.annotation, info.metadata)
        if convert is not None:
            conversions.append((name, convert))

    def build(obj: dict[str, Any]) -> Any:
        values = {name: obj[name] for name in names}
        for name, convert in conversions:
            value = values[name]
            if value is not None:
                values[name] = convert(value)
        instance = model.__new__(model)
        _set(instance, "__dict__", values)
        _set(instance, "__pydantic_fields_set__", set(names))
        _set(instance, "__pydantic_extra__", None)
        _set(instance, "__pydantic_private__", None)
        return instance

    return build


def _converter(model: type[BaseModel], name: str, annotation: Any, metadata: list[Any]) -> Convert | None:
    """How to turn a field's JSON value back into its type (None: it is already)."""
    validators = [m.func for m in metadata if isinstance(m, PlainValidator)]
    if validators:
        if len(validators) > 1 or validators[0] not in _FROM_CANONICAL:
            raise TypeError(f"{model.__name__}.{name}: no canonical conversion for {validators}")
        return _FROM_CANONICAL[validators[0]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return constructor(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        item = constructor(args[0])
        return lambda values: [item(value) for value in values]
    if origin in (typing.Union, types.UnionType):  # X | None: None stays, X converts as itself
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            inner_args = typing.get_args(inner[0])
            inner_metadata = list(getattr(inner[0], "__metadata__", ()))
            base = inner_args[0] if inner_metadata else inner[0]
            return _converter(model, name, base, inner_metadata)
    if annotation in (str, int, bool) or origin is typing.Literal or _plain_text(annotation):
        return None
    raise TypeError(f"{model.__name__}.{name}: no canonical conversion for {annotation!r}")


def _plain_text(annotation: Any) -> bool:
    """str with constraints only (length, pattern): the JSON string is the value."""
    base = typing.get_args(annotation)[0] if hasattr(annotation, "__metadata__") else annotation
    return base is str
