"""Processes starting together on a fresh PostgreSQL database all open the store.

A new deployment starts its workers and its relay at once, and each creates
the store where it is missing. eventsourcing creates its composite type in a
transaction of its own and forgives only "type already exists"; a process
that lost the race at the same moment met "duplicate key" or "relation
already exists" and died (one round in eight on this machine, and a `make
bench` row once). Here four processes, started once (spawned, so that no
thread of the test process is forked), open the store of a fresh database
at the same instant, round after round.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from typing import Any

import pytest

from adapters.store.backends import open_recorder
from services.throwaway import drop_database

PROCESSES = 4
ROUNDS = 12
ROUND_S = 1.0  # each round's instant: enough for the slowest process to finish the one before


def _open_at(schedule: list[tuple[str, float]]) -> list[str]:
    """Open and close the store at each URL at its instant; what each attempt ended with."""
    outcomes = []
    for url, at in schedule:
        time.sleep(max(0.0, at - time.time()))
        try:
            open_recorder(url).close()
            outcomes.append("opened")
        except Exception as error:
            outcomes.append(f"{type(error).__name__}: {error}")
    return outcomes


@pytest.mark.postgres
def test_processes_starting_together_on_a_fresh_database_all_open_it(postgres_server: Any) -> None:
    names = [f"fresh_{uuid.uuid4().hex[:12]}" for _ in range(ROUNDS)]
    urls = [postgres_server.create_database(name) for name in names]
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(PROCESSES) as pool:
            first = time.time() + 3.0  # every process started and imported by then
            schedule = [(url, first + index * ROUND_S) for index, url in enumerate(urls)]
            results = [pool.apply_async(_open_at, (schedule,)) for _ in range(PROCESSES)]
            outcomes = [result.get(timeout=120) for result in results]
    finally:
        for name in names:
            drop_database(postgres_server.url, name)
    failed = [outcome for per_process in outcomes for outcome in per_process if outcome != "opened"]
    assert not failed, failed
    assert all(len(per_process) == ROUNDS for per_process in outcomes)
