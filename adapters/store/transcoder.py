"""The transcoder of stored event states: eventsourcing's JSON, written and read with orjson."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSONTranscoder, byte for byte, written and read with orjson.

    The stored state stays the JSON that JSONTranscoder writes (compact, UTF-8,
    `{"_type_": name, "_data_": value}` for datetimes, decimals and UUIDs), so
    any reader with a JSONTranscoder decodes it. orjson writes JSON types
    itself and hands every datetime, date, time and dataclass to the registered
    transcodings. It would write a UUID or an enum as a plain value instead,
    so an event with such a top-level attribute, or anything orjson refuses,
    goes through the standard encoder; the engine's own events hold only JSON
    types below their top level.
    """

    _OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and _native_values(obj):
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=self._OPTIONS)
            except orjson.JSONEncodeError:
                pass  # e.g. an integer beyond 64 bits: the standard encoder has the last word
        return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        # `"_type_"` with its quotes occurs in the text once per object that
        # carries the key (inside a string the quotes would be escaped), so an
        # event whose only such object is a top-level value needs no full walk.
        marks = data.count(b'"_type_"')
        if marks == 0:
            return value
        if marks == 1 and type(value) is dict:
            for key, item in value.items():
                if _flat_transcoded(item):
                    value[key] = self._decode_obj(item)
                    return value
        return self._revive(value)

    def _revive(self, value: Any) -> Any:
        """What JSONTranscoder's object hook does, innermost objects first."""
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._decode_obj(value)
            return value
        if type(value) is list:
            return [self._revive(item) if type(item) is dict or type(item) is list else item for item in value]
        return value


def _flat_transcoded(item: Any) -> bool:
    """A `{"_type_", "_data_"}` object whose data holds no objects or arrays."""
    return (
        type(item) is dict and len(item) == 2 and "_type_" in item and type(item.get("_data_", {})) not in (dict, list)
    )


def _native_values(obj: dict[str, Any]) -> bool:
    """No top-level UUID or enum, which orjson would write in its own way."""
    for value in obj.values():
        kind = type(value)
        if kind not in _NATIVE and (kind is UUID or isinstance(value, Enum)):
            return False
    return True


_NATIVE = frozenset((str, dict, int, bool, type(None), list, datetime, float, Decimal))
