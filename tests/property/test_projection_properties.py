"""Properties of the read models over random histories, computed without a database.

Whatever billing sends: the locked accounts are those whose last card command
was LockCard; the running delinquency totals agree with a recount of the
accounts; every roll-rate row of a date adds up to the accounts the bucket
had at the previous close; the collection queue holds exactly the accounts
with an overdue balance, with the notice counts their commands say.
"""

from __future__ import annotations

import contextlib

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ledger import Rejected
from events.recorded import DELINQUENCY_BUCKETS
from projections.account_status import ACCOUNT_STATUS
from projections.collection import COLLECTION_QUEUE
from projections.decisions import DECISIONS
from projections.delinquency import DELINQUENCY_DAILY, ROLL_RATES, TOTALS
from projections.dispatch import Dispatcher
from projections.registry import PROJECTIONS
from tests.readmodels import histories
from tests.support.memory_tables import MemoryTables
from tests.unit.test_projections import Store


def project(history: list[bytes]) -> tuple[Store, dict[str, list[dict[str, object]]]]:
    """Apply a history to pure aggregates (skipping what the engine would reject) and project it."""
    store = Store()
    for line in history:
        with contextlib.suppress(Rejected):  # the engine would dead-letter it: nothing is recorded
            store.send(orjson.loads(line))
    tables = store.project()
    wanted = (ACCOUNT_STATUS, COLLECTION_QUEUE, DECISIONS, DELINQUENCY_DAILY, ROLL_RATES, TOTALS)
    return store, {table.name: tables.table(table) for table in wanted}


@settings(max_examples=60, deadline=None)
@given(history=histories())
def test_read_models_agree_with_each_other_and_the_commands(history: list[bytes]) -> None:
    _, rows = project(history)
    accounts = rows["account_status"]
    last_card: dict[str, str] = {}
    notices: dict[str, int] = {}
    for decision in rows["decisions"]:
        kind = decision["command_type"]
        if kind in ("LockCard", "UnlockCard"):
            last_card[str(decision["account_id"])] = str(kind)
        command = decision["command"]
        if kind == "SendNotice" and isinstance(command, dict) and command["channel"] != "ops":
            notices[str(decision["account_id"])] = notices.get(str(decision["account_id"]), 0) + 1
    assert {a["account_id"] for a in accounts if a["card_locked"]} == {
        account for account, kind in last_card.items() if kind == "LockCard"
    }
    totals = {row["bucket"]: row["accounts"] for row in rows["delinquency_totals"]}
    for bucket in DELINQUENCY_BUCKETS:
        assert totals.get(bucket, 0) == sum(1 for a in accounts if a["delinquency_bucket"] == bucket)
    queue = rows["collection_queue"]
    assert {q["account_id"] for q in queue} == {a["account_id"] for a in accounts if a["overdue_outstanding"] > 0}  # type: ignore[operator]
    for q in queue:
        assert q["notices_sent"] == notices.get(str(q["account_id"]), 0)
    at_close = {(row["business_date"], row["bucket"]): row["accounts"] for row in rows["delinquency_daily"]}
    sums: dict[tuple[object, object], int] = {}
    for row in rows["roll_rates"]:
        key = (row["business_date"], row["from_bucket"])
        sums[key] = sums.get(key, 0) + int(row["accounts"])  # type: ignore[call-overload]
    for row in rows["roll_rates"]:
        if row["from_bucket"] != "new":
            assert at_close[(row["previous_date"], row["from_bucket"])] == row["from_accounts"]
            assert sums[(row["business_date"], row["from_bucket"])] == row["from_accounts"]
    closes = sorted({row["business_date"] for row in rows["delinquency_daily"]})  # type: ignore[type-var]
    for day in closes:
        assert sum(at_close[(day, b)] for b in DELINQUENCY_BUCKETS) <= len(accounts)  # type: ignore[misc]


@settings(max_examples=30, deadline=None)
@given(history=histories(), cut=st.integers(0, 200))
def test_replaying_from_any_point_in_two_runs_gives_the_same_rows(history: list[bytes], cut: int) -> None:
    store, _ = project(history)
    whole = MemoryTables()
    Dispatcher(PROJECTIONS).apply(store.notifications, {}, whole)
    parts = MemoryTables()
    middle = min(cut, len(store.notifications))
    positions = Dispatcher(PROJECTIONS).apply(store.notifications[:middle], {}, parts)
    Dispatcher(PROJECTIONS).apply(store.notifications, positions, parts)  # a restart re-reads, skips what it applied
    assert parts.rows == whole.rows
