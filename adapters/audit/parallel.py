"""Audit replay of many accounts on several processes.

Accounts replay independently, so `fengkong audit --all` splits them into
slices and replays the slices on worker processes (each with its own
connection to the store), keeping only a small verdict per account.
"""

from __future__ import annotations

import functools
import os
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
    actions: list[dict[str, Any]] = field(default_factory=list)  # operators' actions on the account: who did what

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
    slices = [account_ids[start : start + SLICE] for start in range(0, len(account_ids), SLICE)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        for verdicts in pool.map(_audit_slice, [settings] * len(slices), [what_if] * len(slices), slices):
            yield from verdicts
