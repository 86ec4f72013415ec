"""What the published JSON Schema calls valid, the models accept: events generated from the schema itself.

hypothesis-jsonschema draws events from each branch of the inbound schema's
`oneOf` (one type at a time: the union as a whole is slower); every one must
validate against the whole schema (jsonschema, formats checked), be accepted
by `parse_event`, and its canonical form must validate again (and be what
pydantic's own serializer writes, events.canonical), and read back it
must give the digest it was stored with (`recorded_digest`). A failure
means the schema promises more than the models take: fix the schema (or the
model) until it tells the truth.

One allowance: for a string with both `format` and `pattern`,
hypothesis-jsonschema draws from the format (dates of the years 1 to 9999)
and filters by the pattern, which finds almost nothing in 2000-2199. The
formats `date` and `date-time` are therefore drawn from the schema's own
pattern for them (read from the schema, not from the code); the library
checks each drawn string against its format still.

50 examples per type; FENGKONG_LONG=1: 500.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator, FormatChecker

from events.canonical import payload_digest
from events.inbound import EVENT_TYPES, load_canonical, parse_event
from events.operator import recorded_digest
from events.schema import contract_schema

LONG = os.environ.get("FENGKONG_LONG") == "1"
SCHEMA = contract_schema("inbound")
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
BRANCHES = {branch["$ref"].rsplit("/", 1)[1]: branch for branch in SCHEMA["oneOf"]}


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _format_patterns() -> dict[str, str]:
    """The one pattern the schema gives each format it uses (a test failure if there are several)."""
    found: dict[str, set[str]] = {}
    for node in _nodes(SCHEMA):
        if isinstance(node.get("format"), str) and "pattern" in node:
            found.setdefault(node["format"], set()).add(node["pattern"])
    assert all(len(patterns) == 1 for patterns in found.values()), found
    return {name: patterns.pop() for name, patterns in found.items()}


FORMATS = {name: st.from_regex(pattern, fullmatch=True) for name, pattern in _format_patterns().items()}


def test_the_branches_are_the_event_types_and_the_formats_are_the_two_expected() -> None:
    assert set(BRANCHES) == set(EVENT_TYPES) == set(SCHEMA["discriminator"]["mapping"])
    assert set(FORMATS) == {"date", "date-time"}


@pytest.mark.filterwarnings("ignore:Overriding standard format")
@pytest.mark.parametrize("kind", sorted(BRANCHES))
def test_every_event_the_schema_generates_is_accepted_by_the_models(kind: str) -> None:
    events = from_schema({"$defs": SCHEMA["$defs"], **BRANCHES[kind]}, custom_formats=FORMATS)

    # Ids are drawn from the pattern and then held to their lengths, plan_id to its second pattern
    # (no "#"), by filters that now and then give up on a draw: slow, not wrong.
    slow = [HealthCheck.too_slow, HealthCheck.filter_too_much]

    @settings(max_examples=500 if LONG else 50, deadline=None, suppress_health_check=slow)
    @given(event=events, ascii_only=st.booleans())
    def check(event: dict[str, Any], ascii_only: bool) -> None:
        VALIDATOR.validate(event)  # the generator and the schema agree, the union's oneOf included
        parsed = parse_event(json.dumps(event, ensure_ascii=ascii_only))  # InvalidEvent: the schema says too much
        assert parsed.event.type == kind
        VALIDATOR.validate(json.loads(parsed.canonical))  # what the store records is within the contract too
        assert parsed.canonical == parsed.event.model_dump_json()  # events.canonical writes what pydantic writes
        recorded = load_canonical(parsed.canonical)  # read back as reconcile reads it: its digest is the stored one
        assert recorded_digest(recorded) == parsed.digest == payload_digest(recorded.model_dump_json().encode())

    check()
