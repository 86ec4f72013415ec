"""Decisions never depend on personal values: the same history with other personal values decides the same."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.inbound import EVENT_TYPES
from events.personal import personal_paths
from tests.integration.test_privacy import events
from tests.support.wiring import open_engine

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "contract_scenario.jsonl"
_SAFE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


def with_personal(line: bytes, values: dict[str, str]) -> bytes:
    event: dict[str, Any] = orjson.loads(line)
    for path in personal_paths(EVENT_TYPES[event["type"]]):
        data = event
        for name in path[:-1]:
            data = data[name]
        if path[-1] in data:
            data[path[-1]] = values[path[-1]]
    return orjson.dumps(event)


def decided(lines: list[bytes]) -> tuple[list[Any], list[Any]]:
    with tempfile.TemporaryDirectory() as folder:
        engine = open_engine(str(Path(folder) / "store.db"))
        try:
            results = [
                (r.outcome.value, r.rules, [c.model_dump(mode="json") for c in r.commands])
                for r in engine.ingest(lines)
            ]
            histories = engine.recorded_histories(engine.account_ids())
            decisions = [d for _, states in histories for state in states for d in state.get("decisions", ())]
        finally:
            engine.close()
    return results, decisions


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {
            name: st.text(_SAFE, min_size=1, max_size=30)
            for name in ("customer_id", "card_ref", "phone", "reason", "reviewer", "note")
        }
    )
)
def test_other_personal_values_give_identical_decisions_and_commands(values: dict[str, str]) -> None:
    lines = SCENARIO.read_bytes().splitlines() + [orjson.dumps(event) for event in events("Z")]
    assert decided(lines) == decided([with_personal(line, values) for line in lines])
