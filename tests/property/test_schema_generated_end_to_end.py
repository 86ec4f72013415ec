"""No event the contract accepts may stop the engine, the store, the read models, the API or the audit.

Hypothesis draws events from the project's own published JSON Schema
(hypothesis-jsonschema, one `oneOf` branch per type as in
test_schema_generated.py, which says why) and mixes them into a valid
history (an account opened, billed, overdue, on a plan, reviewed, with the
platform clock closing days). Half the generated events are aimed at the
history's account, so they reach a real ledger instead of "no account". Each
example, in this process (no CLI per example), on SQLite and PostgreSQL:

1. the engine processes every message: each is accepted, a duplicate, or
   rejected with a reason, never an internal error, and the store's commit
   succeeds;
2. the read models catch up to the store's head (every projection at it);
3. the HTTP API answers every route of its own OpenAPI document, path
   parameters filled with the example's account ids, with no 5xx;
4. audit replay (`engine.audit.replay_accounts`, what `fengkong audit` runs) re-derives every
   decision of the example's accounts exactly.

Examples share one store per database (ids carry the example's number), so
later examples also meet the earlier ones' data, as a real store would.
CI: 150 examples per database (about 60 s each here; drawing from the schema is a third
of it, the API's routes a quarter); FENGKONG_LONG=1: 3,000.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from engine.audit import replay_accounts
from engine.batch import Outcome
from events.schema import contract_schema
from tests.builders import Events
from tests.property.test_schema_generated import BRANCHES, FORMATS, SCHEMA
from tests.support.wiring import api_at, key_at, log_at, open_engine, runner_at

LONG = os.environ.get("FENGKONG_LONG") == "1"
EXAMPLES = 3000 if LONG else 150
with warnings.catch_warnings():  # the date formats drawn from the schema's own patterns: see test_schema_generated.py
    warnings.filterwarnings("ignore", "Overriding standard format")
    GENERATED = {
        kind: from_schema({"$defs": SCHEMA["$defs"], **branch}, custom_formats=FORMATS)
        for kind, branch in BRANCHES.items()
    }


def history(events: Events) -> list[dict[str, Any]]:
    """A valid life of one account: opened, billed, overdue (lock), a plan, an unlock request and review."""
    return [
        events.opened(at="2026-08-01T10:00:00"),
        events.bill("b1", "1200.00", "2026-08-20", at="2026-08-02T09:00:00"),
        events.day_closed("2026-08-20"),
        events.overdue("b1", 3, "1200.00", at="2026-08-23T02:30:00"),
        events.plan("p1", "2026-08-24T10:00:00", ("2026-09-01", "600.00"), ("2026-10-01", "600.00")),
        events.request("r1", "2026-08-25T10:00:00"),
        events.day_closed("2026-08-26"),
        events.review("r1", True, "2026-08-27T10:00:00"),
        events.pay("pay1", "600.00", "2026-09-01T12:00:00", plan_id="p1"),
    ]


@st.composite
def examples(draw: st.DrawFn, number: int) -> tuple[str, list[dict[str, Any]]]:
    """One account's valid history with schema-generated events mixed in at drawn places."""
    account = f"E{number}"
    events = history(Events(account))
    kinds = draw(st.lists(st.sampled_from(sorted(GENERATED)), min_size=1, max_size=3))
    for kind in kinds:
        event = dict(draw(GENERATED[kind]))
        if "account_id" in event and draw(st.booleans()):
            event["account_id"] = account  # aimed at the history's account: its ledger sees the event
        event["event_id"] = f"{number}-{event['event_id']}"[:128]
        events.insert(draw(st.integers(0, len(events))), event)
    return account, events


def _paths(app_openapi: dict[str, Any]) -> list[str]:
    return [path for path, methods in app_openapi["paths"].items() if "get" in methods]


def _check_api(client: TestClient, paths: list[str], accounts: list[str], days: list[str]) -> None:
    for path in paths:
        for account in accounts if "{account_id}" in path else [""]:
            url = path.replace("{account_id}", account)
            params = {"date": days[0]} if path.endswith("roll-rates") and days else {}
            response = client.get(url, params=params)
            assert response.status_code < 500, (url, response.status_code, response.text[:500])
            assert response.status_code not in (401, 403), (url, response.text)  # the key was taken: real answers


def run_end_to_end(store: str) -> None:
    engine = open_engine(store)
    runner = runner_at(store)
    log = log_at(store)
    counter = itertools.count()
    key = key_at(store)  # an analyst's key: every route of the document answers it
    client = TestClient(api_at(store), raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})
    client.__enter__()  # one event loop for every request (a new one per request costs ~7 ms)
    paths = _paths(client.app.openapi())  # type: ignore[attr-defined]
    assert len(paths) >= 9  # every GET route of the API, read from its own document
    totals = dict.fromkeys(Outcome, 0)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        account, events = data.draw(examples(next(counter)))
        lines = [orjson.dumps(event) if i % 2 else json.dumps(event) for i, event in enumerate(events)]
        results = engine.process(lines)
        assert len(results) == len(lines)
        for result in results:
            totals[result.outcome] += 1
            assert not (result.reason or "").startswith("internal error"), (result.reason, events[result.index])
        assert engine.account(account) is not None  # opened, by the history or by a generated event aimed at it

        runner.catch_up()
        head = log.head()
        assert all(position == head for position in runner.positions.values()), (runner.positions, head)

        ids = sorted({account} | {str(e["account_id"]) for e in events if "account_id" in e})
        days = [e["data"]["business_date"] for e in events if e["type"] == "DayClosed"]
        _check_api(client, paths, ids, days)
        known = [account_id for account_id in ids if engine.account(account_id) is not None]
        replays = list(replay_accounts(engine, known))  # what `fengkong audit` runs, on this process's engine
        assert len(replays) == len(known)
        assert all(replay.identical for replay in replays), [r.account_id for r in replays if not r.identical]

    try:
        check()
    finally:
        client.__exit__(None, None, None)
        runner.close()
        log.close()
    print(f"outcomes over {EXAMPLES} examples: {dict(totals)}")
    # the histories went in (the engine worked, it did not only refuse), and generated events met real refusals
    assert totals[Outcome.ACCEPTED] > EXAMPLES
    assert totals[Outcome.REJECTED] > 0


def test_every_accepted_event_goes_through_engine_store_read_models_api_and_audit(store: str) -> None:
    run_end_to_end(store)


def test_the_schema_is_the_published_one() -> None:
    assert contract_schema("inbound") == SCHEMA
