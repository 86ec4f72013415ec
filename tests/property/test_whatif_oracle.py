"""What-if with a stricter or looser lock threshold reports exactly what an oracle counts over the events.

Histories come from hypothesis (tests.support.histories); the store records
them under default-v1 (lock at 1 day past due) and the what-if replays them
under a candidate locking at another threshold. The oracle is a few lines
over the generated events, not the engine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.audit.whatif import whatif_report
from adapters.settings import Settings
from engine.governance import Requested
from engine.policy import policy_text
from engine.whatif import Period
from tests.support.histories import BillPlan, lines, oracle, portfolio_events, portfolios
from tests.support.wiring import open_engine

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def candidate(min_days_past_due: int) -> Requested:
    text = policy_text("default-v1").replace('version = "default-v1"', f'version = "dpd{min_days_past_due}-v1"')
    return Requested.of(text.replace("min_days_past_due = 1", f"min_days_past_due = {min_days_past_due}"))


@SETTINGS
@given(portfolios, st.integers(1, 20))
def test_whatif_lock_counts_match_the_oracle(plans: list[list[BillPlan]], threshold: int) -> None:
    events = portfolio_events(plans)
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "s.db")
        engine = open_engine(store)
        assert all(r.outcome.value == "accepted" for r in engine.ingest(lines(events)))
        engine.close()
        report = whatif_report(Settings(store=store), candidate(threshold), Period(), None, jobs=1)
    recorded, proposed = oracle(events, 1), oracle(events, threshold)
    commands = report["commands_by_type"]
    assert commands["recorded"].get("LockCard", 0) == recorded.locks
    assert commands["candidate"].get("LockCard", 0) == proposed.locks
    assert commands["candidate"].get("SuspendCreditLine", 0) == proposed.locks
    assert commands["recorded"].get("UnlockCard", 0) == recorded.unlocks
    assert commands["candidate"].get("UnlockCard", 0) == proposed.unlocks
    locks = report["locks"]
    assert locks["locked_only_recorded"] == sorted(recorded.locked_accounts - proposed.locked_accounts)
    assert locks["locked_only_candidate"] == sorted(proposed.locked_accounts - recorded.locked_accounts)
    shifts = {
        account: (proposed.first_lock[account] - recorded.first_lock[account]).days
        for account in recorded.locked_accounts & proposed.locked_accounts
    }
    assert {s["account_id"]: s["days"] for s in locks["shifts"]} == {a: d for a, d in shifts.items() if d}
    differing = sorted(
        a
        for a in recorded.actions.keys() | proposed.actions.keys()
        if recorded.actions.get(a, []) != proposed.actions.get(a, [])
    )
    assert report["differing_accounts"] == differing
    assert report["identical"] == (differing == [])
