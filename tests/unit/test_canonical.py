"""The canonical JSON written without pydantic's serializer is byte for byte pydantic's (what the store holds)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from events.canonical import canonical_and_digest, canonical_bytes, payload_digest, plan
from events.inbound import EVENT_TYPES, load_canonical, parse_event
from events.operator import ACTION_TYPES, build_action, recorded_digest
from events.personal import FORGOTTEN_TOKEN, personal_paths, token, with_values
from tests.unit.test_trusted import valid_events

_sealed = st.one_of(
    st.just(FORGOTTEN_TOKEN),
    st.builds(
        token, st.from_regex(r"[0-9a-f]{16}", fullmatch=True), st.from_regex(r"[A-Za-z0-9_-]{8,40}", fullmatch=True)
    ),
)


@settings(max_examples=400, deadline=None)
@given(event=valid_events(), seal=st.data())
def test_every_valid_event_plain_or_sealed_is_written_as_pydantic_writes_it(event: dict[str, Any], seal: Any) -> None:
    parsed = parse_event(json.dumps(event))
    assert parsed.canonical == parsed.event.model_dump_json()
    assert parsed.digest == payload_digest(parsed.event.model_dump_json().encode())
    paths = personal_paths(type(parsed.event))
    if paths:  # sealed values hold U+001F: escaped as pydantic escapes it
        sealed = with_values(parsed.event, {path: seal.draw(_sealed) for path in paths})
        canonical, digest = canonical_and_digest(sealed)
        assert canonical == sealed.model_dump_json()
        assert digest == payload_digest(sealed.model_dump_json().encode())
        assert recorded_digest(load_canonical(canonical)) == digest  # what reconcile finds for the stored fact


def test_operator_actions_are_written_as_pydantic_writes_them() -> None:
    data = {
        "actor": "ops-1",
        "key_id": "k1",
        "role": "operator",
        "lock_command_id": "cmd-1",
        "retracted_event_id": "e-1",
        "window_from": "2026-03-01T00:00:00Z",
        "window_to": "2026-03-02T00:00:00.5+08:00",
        "reason": 'a "quoted" reason, 中文',
    }
    built = build_action("LockUndone", "idem-1", "2026-03-03T10:00:00+08:00", data, account_id="A-1")
    undone = built.event
    assert canonical_bytes(undone).decode() == undone.model_dump_json()
    assert recorded_digest(load_canonical(built.canonical)) == built.digest  # its time left out, as when built
    for model in [*EVENT_TYPES.values(), *ACTION_TYPES.values()]:
        plan(model)  # every recorded type has a plan


def test_a_model_it_cannot_write_exactly_is_refused_at_once() -> None:
    class Odd(BaseModel):
        amount: Decimal  # pydantic writes it its own way: no plan guesses

    with pytest.raises(TypeError, match=r"Odd\.amount"):
        plan(Odd)
