"""Audit replay of many accounts on several processes.

Accounts replay independently, so `fengkong audit --all` splits them into
slices and replays the slices on worker processes (each with its own
connection to the store), keeping only a small verdict per account.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from adapters.bootstrap import open_engine
from adapters.settings import Settings
from engine.audit import Replay, commands_of, replay_accounts
from engine.policy import Policy, load_policy

SLICE = 1000  # accounts per task
PARALLEL_FROM = 2 * SLICE  # fewer accounts than this are not worth starting processes for


@dataclass
class Verdict:
    """What an audit keeps of one account's replay; the commands only when it differs."""

    account_id: str
    facts: int
    decisions_recorded: int
    decisions_derived: int
    identical: bool
    recorded_commands: list[dict[str, Any]] = field(default_factory=list)
    derived_commands: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, result: Replay) -> Verdict:
        identical = result.identical
        return cls(
            result.account_id,
            result.facts,
            len(result.recorded),
            len(result.derived),
            identical,
            [] if identical else commands_of(result.recorded),
            [] if identical else commands_of(result.derived),
        )


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def _policies(what_if: str | None) -> Callable[[str], Policy]:
    if what_if is None:
        return functools.cache(load_policy)
    alternative = load_policy(what_if)
    return lambda _: alternative


def _audit_slice(settings: Settings, what_if: str | None, account_ids: Sequence[str]) -> list[Verdict]:
    engine = open_engine(settings)
    try:
        return [Verdict.of(result) for result in replay_accounts(engine, account_ids, _policies(what_if))]
    finally:
        engine.close()


_worker: dict[str, Any] = {}  # in a worker process: its engine and policies, opened once for all its slices


def _start_worker(settings: Settings, what_if: str | None) -> None:
    _worker["engine"] = open_engine(settings)
    _worker["policies"] = _policies(what_if)


def _worker_slice(account_ids: Sequence[str]) -> list[Verdict]:
    engine, policies = _worker["engine"], _worker["policies"]
    return [Verdict.of(result) for result in replay_accounts(engine, account_ids, policies)]


def _ready() -> int:
    time.sleep(0.05)  # long enough that an idle process takes the next task rather than this one again
    return os.getpid()


class AuditPool:
    """`jobs` worker processes, each with its engine open, replaying slices of accounts (a context manager).

    `start()` waits until every process has started and opened its store, so a
    caller can time the replay alone (the benchmark does).
    """

    def __init__(self, settings: Settings, what_if: str | None, jobs: int) -> None:
        self.settings = settings
        self.jobs = jobs
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(settings, what_if)
        )

    def __enter__(self) -> AuditPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(cancel_futures=True)

    def start(self, timeout: float = 120.0) -> None:
        """Return once every process has started and opened its store (each answers a task with its pid)."""
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < self.jobs and time.monotonic() < deadline:
            seen.update(future.result() for future in [self.pool.submit(_ready) for _ in range(self.jobs)])

    def audit(self, account_ids: Sequence[str] | None = None, size: int = SLICE) -> Iterator[Verdict]:
        """Verdicts for the named accounts (every account when None), in order, `size` accounts per task."""
        if account_ids is None:
            engine = open_engine(self.settings)
            account_ids = engine.account_ids()
            engine.close()
        slices = [account_ids[start : start + size] for start in range(0, len(account_ids), size)]
        for verdicts in self.pool.map(_worker_slice, slices):
            yield from verdicts


def audit(
    settings: Settings, account_ids: Sequence[str] | None, what_if: str | None = None, jobs: int = 1
) -> Iterator[Verdict]:
    """Verdicts for the named accounts (every account when None), in order.

    Raises LookupError for a named account the store does not hold.
    """
    if account_ids is None:
        engine = open_engine(settings)
        account_ids = engine.account_ids()
        engine.close()
    if jobs <= 1 or len(account_ids) < PARALLEL_FROM:
        yield from _audit_slice(settings, what_if, account_ids)
        return
    with AuditPool(settings, what_if, jobs) as pool:
        yield from pool.audit(account_ids)
