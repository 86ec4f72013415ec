"""The orjson transcoder writes and reads exactly what eventsourcing's JSONTranscoder does.

Readers of the store (projections, the relay, older versions) decode stored
state with a plain JSONTranscoder, so the faster one must not change a byte.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from adapters.store.transcoder import OrjsonTranscoder
from adapters.synthetic.portfolio import Portfolio
from tests.support.wiring import open_engine


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


class Colour(StrEnum):
    RED = "red"


STATES: list[dict[str, Any]] = [
    {"timestamp": datetime(2026, 3, 10, 1, 2, 3, 456789, tzinfo=UTC), "fact": '{"a":"\\u0001 é \u2028"}'},
    {"amount": Decimal("12.50"), "nested": {"when": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=8)))}},
    {"list": [1, "two", None, True, {"x": Decimal("0.01")}, [datetime(2026, 1, 1, tzinfo=UTC)]], "f": 1.5},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "text": "x"},
    {"colour": Colour.RED},
    {"big": 2**70},
    {"_type_": "not a transcoding", "other": 1, "third": 2},
    {},
]


@pytest.mark.parametrize("state", STATES)
def test_same_bytes_and_same_values_as_json_transcoder(state: dict[str, Any]) -> None:
    plain, fast = _registered(JSONTranscoder()), _registered(OrjsonTranscoder())
    written = plain.encode(state)
    assert fast.encode(state) == written
    assert fast.decode(written) == plain.decode(written)


def test_every_stored_event_of_a_portfolio_round_trips_identically(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "store.db"))
    assert isinstance(engine.mapper.transcoder, OrjsonTranscoder)
    for day in Portfolio(40, 120, seed=3).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    plain = _registered(JSONTranscoder())
    notifications = engine.recorder.select_notifications(1, 100_000)
    assert len(notifications) > 500
    for notification in notifications:
        decoded = plain.decode(notification.state)
        assert engine.mapper.transcoder.decode(notification.state) == decoded
        assert engine.mapper.transcoder.encode(decoded) == notification.state == plain.encode(decoded)
