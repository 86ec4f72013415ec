"""Replaying many accounts on every core: audit verdicts and what-if outcomes, with progress.

Accounts replay independently, so the accounts are cut into slices and the
slices replayed on worker processes (each with its own read-only connection
to the store), keeping only a small result per account. The parent reports
progress (accounts and facts done, facts per second) as slices finish.
The emergency brake's ledger is one sequential pass over the whole log
(`adapters.audit.brake`); with every account audited it runs as one more task
of the pool, first, beside the slices rather than after them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar

from adapters.audit.brake import audit_brake_ledger
from adapters.bootstrap import open_engine
from adapters.settings import Settings
from engine.audit import Replay, commands_of, replay_accounts
from engine.brake_audit import BrakeAudit
from engine.collector import cyclic_gc_paused
from engine.whatif import AccountOutcome, Period, compare_account

SLICE = 1000  # accounts per task
PARALLEL_FROM = 2 * SLICE  # fewer accounts than this are not worth starting processes for


class Counted(Protocol):
    @property
    def facts(self) -> int: ...


R = TypeVar("R", bound=Counted)
P = TypeVar("P")
Progress = Callable[[int, int, int], None]
"""progress(accounts done, accounts in all, facts done), after each slice."""


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
    actions: list[dict[str, Any]] = field(default_factory=list)  # operators' actions on the account: who did what
    balances_differ: list[str] = field(default_factory=list)

    def __reduce__(self) -> tuple[type[Verdict], tuple[Any, ...]]:
        """Pickled as its fields in order (a worker sends back one per account): unpickling a dataclass's
        state took the parent a second of CPU per 100,000 accounts, beside the workers on their cores."""
        values = tuple(getattr(self, name) for name in _VERDICT_FIELDS)
        return Verdict, values if any(values[_FIRST_LIST:]) else values[:_FIRST_LIST]

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
            result.actions,
            list(result.balances_differ),
        )


_VERDICT_FIELDS = tuple(f.name for f in fields(Verdict))
_FIRST_LIST = _VERDICT_FIELDS.index("recorded_commands")  # the lists after it are empty for most accounts


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def every_account(settings: Settings) -> list[str]:
    engine = open_engine(settings)
    try:
        return engine.account_ids()
    finally:
        engine.close()


def run_slices(
    settings: Settings,
    job: Callable[[Settings, P, Sequence[str]], list[R]],
    payload: P,
    account_ids: Sequence[str],
    jobs: int = 1,
    progress: Progress | None = None,
) -> Iterator[R]:
    """`job` over slices of the accounts, on `jobs` processes from PARALLEL_FROM accounts on; results in order."""
    slices = [account_ids[start : start + SLICE] for start in range(0, len(account_ids), SLICE)]
    done = facts = 0

    def finished(results: list[R]) -> list[R]:
        nonlocal done, facts
        done += len(results)
        facts += sum(result.facts for result in results)
        if progress is not None:
            progress(done, len(account_ids), facts)
        return results

    if jobs <= 1 or len(account_ids) < PARALLEL_FROM:
        for ids in slices:
            yield from finished(job(settings, payload, ids))
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures: list[Future[list[R]]] = [pool.submit(job, settings, payload, ids) for ids in slices]
        for future in futures:
            yield from finished(future.result())


def _audit_slice(settings: Settings, _: None, account_ids: Sequence[str]) -> list[Verdict]:
    engine = open_engine(settings)
    try:
        return [Verdict.of(result) for result in replay_accounts(engine, account_ids)]
    finally:
        engine.close()


_worker: dict[str, Any] = {}  # in a worker process: its engine, opened once for all its slices


def _start_worker(settings: Settings) -> None:
    _worker["settings"] = settings
    _worker["engine"] = open_engine(settings)


def _worker_slice(account_ids: Sequence[str]) -> list[Verdict]:
    """The slice's verdicts, the cyclic collector paused: a replay makes no reference cycles (its garbage goes
    by reference counting), yet the collector walked its many short-lived objects, about 6% of a replay's CPU."""
    with cyclic_gc_paused():
        return [Verdict.of(result) for result in replay_accounts(_worker["engine"], account_ids)]


def _worker_brake_ledger() -> BrakeAudit:
    with cyclic_gc_paused():
        return audit_brake_ledger(_worker["settings"])


def _ready() -> int:
    time.sleep(0.05)  # long enough that an idle process takes the next task rather than this one again
    return os.getpid()


def _cuts(count: int, size: int, jobs: int) -> list[tuple[int, int]]:
    """(start, end) of each task: `size` accounts, then a tenth of that for the last 2 x `jobs` slices' worth,
    so the processes finish together rather than one idling while another replays a whole last slice."""
    tail_from = max(0, count - 2 * jobs * size)
    starts = [*range(0, tail_from, size), *range(tail_from, count, max(1, size // 10))]
    return [(start, end) for start, end in zip(starts, [*starts[1:], count], strict=False)]


class AuditPool:
    """`jobs` worker processes, each with its engine open, replaying slices of accounts (a context manager).

    `start()` waits until every process has started and opened its store, so a
    caller can time the replay alone (the benchmark does).
    """

    def __init__(self, settings: Settings, jobs: int) -> None:
        self.settings = settings
        self.jobs = jobs
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(settings,)
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

    def brake_ledger(self) -> Future[BrakeAudit]:
        """The brake's ledger proven on one of the processes; ask before `audit` so that it starts first."""
        return self.pool.submit(_worker_brake_ledger)

    def audit(
        self, account_ids: Sequence[str] | None = None, progress: Progress | None = None, size: int = SLICE
    ) -> Iterator[Verdict]:
        """Verdicts for the named accounts (every account when None), in order, `size` accounts per task."""
        ids = every_account(self.settings) if account_ids is None else account_ids
        slices = [ids[start:end] for start, end in _cuts(len(ids), size, self.jobs)]
        done = facts = 0
        for verdicts in self.pool.map(_worker_slice, slices):
            done += len(verdicts)
            facts += sum(verdict.facts for verdict in verdicts)
            if progress is not None:
                progress(done, len(ids), facts)
            yield from verdicts


class Audit:
    """An audit: iterating it yields the verdicts of the named accounts (every account when None), in order, under
    the recorded policies; once they are all out, `brake` holds the emergency brake's ledger proven again (asked
    for with `brake=True`; None otherwise). A result to read, where a callback handed in used to receive it."""

    def __init__(
        self,
        settings: Settings,
        account_ids: Sequence[str] | None,
        jobs: int = 1,
        progress: Progress | None = None,
        *,
        brake: bool = False,
    ) -> None:
        self.settings, self.account_ids, self.jobs, self.progress = settings, account_ids, jobs, progress
        self.with_brake = brake
        self.brake: BrakeAudit | None = None

    def __iter__(self) -> Iterator[Verdict]:
        """Raises LookupError for a named account the store does not hold, or a policy it neither recorded nor
        ships. The brake's ledger is proven on the pool, beside the accounts, when there is one."""
        settings = self.settings
        ids = every_account(settings) if self.account_ids is None else self.account_ids
        if self.jobs <= 1 or len(ids) < PARALLEL_FROM:
            yield from run_slices(settings, _audit_slice, None, ids, 1, self.progress)
            if self.with_brake:
                self.brake = audit_brake_ledger(settings)
            return
        with AuditPool(settings, self.jobs) as pool:
            ledger = pool.brake_ledger() if self.with_brake else None  # asked first: one process takes it
            yield from pool.audit(ids, self.progress)
            if ledger is not None:
                self.brake = ledger.result()


@dataclass(frozen=True)
class WhatIfJob:
    """What a process needs to replay its slice under the candidate: its text (validated again) and the period."""

    candidate: str
    period: Period


def _whatif_slice(settings: Settings, job: WhatIfJob, account_ids: Sequence[str]) -> list[AccountOutcome]:
    engine = open_engine(settings)
    try:
        documents = engine.documents()
        candidate = documents.policy_of(job.candidate).policy
        latest = documents.latest_calendar()
        return [
            compare_account(account_id, states, candidate, documents.calendar_for, latest, job.period)
            for account_id, states in engine.recorded_histories(account_ids)
        ]
    finally:
        engine.close()


def what_if(
    settings: Settings,
    job: WhatIfJob,
    account_ids: Sequence[str] | None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> Iterator[AccountOutcome]:
    """Each account's recorded outcome beside the candidate's, in a sandbox: nothing is written anywhere."""
    ids = every_account(settings) if account_ids is None else account_ids
    yield from run_slices(settings, _whatif_slice, job, ids, jobs, progress)
