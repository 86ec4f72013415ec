"""Hypothesis over the engine with its real (SQLite) store: idempotency and bad input.

Random duplication, reordering of duplicates and batch boundaries must not
change a single command; arbitrary malformed messages are rejected with a
reason, never raise, and never disturb their neighbours.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.synthetic.portfolio import Portfolio
from engine.batch import Outcome
from tests.support.wiring import open_engine

EVENTS = [json.dumps(e).encode() for e in Portfolio(12, 120, seed=2).events()]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def commands_after(messages: list[bytes], batch_size: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        engine = open_engine(str(Path(folder) / "s.db"))
        list(engine.ingest(messages, batch_size=batch_size))
        commands = [c.model_dump(mode="json") for c in engine.commands()]
        engine.close()
        return commands


BASELINE = commands_after(EVENTS, 500)


@SETTINGS
@given(st.data(), st.integers(1, 300))
def test_applying_any_event_twice_equals_applying_it_once(data: st.DataObject, batch_size: int) -> None:
    repeats = data.draw(st.lists(st.integers(0, len(EVENTS) - 1), max_size=60))
    messages = list(EVENTS)
    for index in sorted(repeats, reverse=True):
        later = data.draw(st.integers(index + 1, len(messages)))
        messages.insert(later, EVENTS[index])  # an upstream retry, some time after the original
    assert commands_after(messages, batch_size) == BASELINE


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def mutate(event: dict[str, Any], path: list[str], value: Any) -> bytes:
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(event).encode()


@st.composite
def bad_messages(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "field"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    event = json.loads(draw(st.sampled_from(EVENTS)))
    keys = [[k] for k in event if k != "data"] + [["data", k] for k in event["data"]]
    path = draw(st.sampled_from(keys))
    return mutate(event, path, draw(json_values))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(EVENTS)), bad_messages()), min_size=1, max_size=8))
def test_malformed_messages_are_answered_and_neighbours_still_apply(inserts: list[tuple[int, bytes]]) -> None:
    messages = list(EVENTS)
    for position, bad in sorted(inserts, reverse=True):
        messages.insert(position, bad)
    with tempfile.TemporaryDirectory() as folder:
        engine = open_engine(str(Path(folder) / "s.db"))
        results = list(engine.ingest(messages, batch_size=50))
        assert len(results) == len(messages)
        for result in results:
            assert result.outcome is not Outcome.REJECTED or result.reason
        clean = [r for r, m in zip(results, messages, strict=True) if m in EVENTS]
        accepted = sum(r.outcome is Outcome.ACCEPTED for r in clean)
        commands = [c.model_dump(mode="json") for c in engine.commands()]
        engine.close()
    # A mutated copy of a real event may legitimately be accepted (e.g. another valid amount),
    # so neighbours are checked by what the clean events alone produce when bad ones are dropped.
    if all(r.outcome is Outcome.REJECTED for r, m in zip(results, messages, strict=True) if m not in EVENTS):
        assert accepted == len(EVENTS) and commands == BASELINE
