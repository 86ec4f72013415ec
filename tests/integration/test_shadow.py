"""Shadow runs follow the store: the same report however they are stopped, restarted or run on a thread."""

from __future__ import annotations

import threading
from pathlib import Path

from adapters.settings import Settings
from adapters.shadow.report import shadow_report
from adapters.shadow.runner import ShadowFollower, ShadowRun
from engine.governance import Requested
from tests.integration.test_whatif import generated_events, policy_file
from tests.support.histories import lines, oracle
from tests.support.wiring import open_engine


def report_of(store: str, candidate: Requested) -> dict:
    run = ShadowRun(Settings(store=store), candidate)
    try:
        run.catch_up()
        found = run.tables.run(run.version)
        assert found is not None
        return shadow_report(run.tables, found)
    finally:
        run.close()


def test_a_shadow_restarted_midway_reports_what_one_uninterrupted_run_reports(tmp_path: Path) -> None:
    events = generated_events(21, accounts=25)
    batches = [lines(events)[i : i + 40] for i in range(0, len(events), 40)]
    candidate = Requested.of(policy_file(tmp_path, "dpd7-v1", 7).read_text())
    stores = {name: str(tmp_path / f"{name}.db") for name in ("restarted", "followed")}

    # one shadow restarted (a new process: nothing in memory) after every other batch
    engine = open_engine(stores["restarted"])
    ShadowRun(Settings(store=stores["restarted"]), candidate).start()
    for n, batch in enumerate(batches):
        engine.process(batch)
        if n % 2:
            report_of(stores["restarted"], candidate)
    engine.close()
    restarted = report_of(stores["restarted"], candidate)

    # one shadow following on a thread, as beside a worker, while the batches are recorded
    engine = open_engine(stores["followed"])
    run = ShadowRun(Settings(store=stores["followed"]), candidate)
    run.start()
    stop = threading.Event()
    follower = ShadowFollower(run, stop, interval_s=0.01)
    follower.start()
    for batch in batches:
        engine.process(batch)
    engine.close()
    stop.set()
    follower.join(10)
    run.close()
    followed = report_of(stores["followed"], candidate)

    expected_1, expected_7 = oracle(events, 1), oracle(events, 7)
    for report in (restarted, followed):
        assert report["facts"] == len(events)
        assert report["commands_by_type"]["recorded"]["LockCard"] == expected_1.locks
        assert report["commands_by_type"]["candidate"].get("LockCard", 0) == expected_7.locks
    same = ("commands_by_type", "locks", "notices", "limit_changes", "portfolio", "differing_accounts", "differences")
    assert {k: restarted[k] for k in same} == {k: followed[k] for k in same}
    engine = open_engine(stores["followed"])
    assert {c.policy_version for c in engine.commands()} == {"default-v1"}  # the shadow emitted nothing
    engine.close()
