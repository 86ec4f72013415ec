"""A projection follower (the API's, `fengkong projections follow`) rides out a store outage in one line a try."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from tests.builders import Events
from tests.support.wiring import open_engine, runner_at


@pytest.mark.parametrize(("error", "traceback"), [(OperationalError, False), (ZeroDivisionError, True)])
def test_a_failed_page_is_one_line_for_an_outage_a_traceback_for_a_defect_and_following_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: type, traceback: bool
) -> None:
    store = str(tmp_path / "follow.db")
    e = Events("F1")
    open_engine(store).process([json.dumps(x).encode() for x in (e.opened(), e.bill("b1", "600.00", "2026-09-01"))])
    runner = runner_at(store)
    head = runner.head()
    real, failures = runner.run_once, [error("server closed the connection unexpectedly")]

    def once_failing(*args: Any) -> int:
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(runner, "run_once", once_failing)
    stop = threading.Event()
    follower = threading.Thread(
        target=runner.follow, args=(stop,), kwargs={"poll_interval": 0.01, "retry_interval": 0.01}
    )
    with caplog.at_level(logging.WARNING, logger="projections.runner"):
        follower.start()
        deadline = time.monotonic() + 30
        while min(runner.positions.values()) < head and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        follower.join(10)
    runner.close()
    assert min(runner.positions.values()) == head, "the follower did not carry on after the failed page"
    failed = [r for r in caplog.records if r.getMessage().startswith("projection page failed")]
    assert len(failed) == 1
    assert (failed[0].exc_info is not None) is traceback
    if not traceback:
        assert failed[0].getMessage().startswith("projection page failed (OperationalError: server closed")
