"""Rebuilding the read models on several processes, one group of projections per process.

Projections are independent of each other: each reads the whole notification
log and writes only its own tables and position. So `fengkong projections
rebuild --jobs N` splits the chosen projections into at most N groups of about
equal cost (`Projection.weight`, measured CPU per event) and rebuilds each group in
a process of its own (`ProjectionRunner.rebuild` over that group alone), all
on the same store; the database serialises their writes, which are a small
part of the work. When every group is done, one runner over the chosen
projections catches up with whatever was stored meanwhile, as a single
rebuild does. The read models not chosen are left as they are: catching them
up too would apply the whole log to any that lag, page by page, under a
command that named others.

A process that dies leaves its projections at the position they last
committed, like a single rebuild that dies; the others finish, and
`fengkong projections catch-up` carries the rest on (`RebuildProcessDied`).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, NamedTuple

from adapters.bootstrap import projection_runner
from adapters.runtime import faults
from adapters.settings import Settings
from engine.collector import cyclic_gc_paused
from projections.base import Projection
from projections.registry import BY_NAME

Progress = Callable[[int, int], None]
_worker: dict[str, Any] = {}  # in a worker process: the queue its progress goes to


class RebuildProcessDied(RuntimeError):
    """A rebuild process ended abruptly (killed); its projections stay at their last committed position."""


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: notifications read (every group reads the whole log) and when it ran (wall clock)."""

    projections: tuple[str, ...]
    notifications: int
    jobs: int
    started: float  # the first read of any group
    ended: float  # the last commit of every group, catch-up included

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def groups(projections: Sequence[Projection], jobs: int) -> list[list[Projection]]:
    """At most `jobs` groups of about equal weight, and no more of them than make the heaviest group lighter.

    A projection is never split, so the heaviest one bounds a rebuild: a process beyond those groups would
    read and decode the whole log again and finish no sooner (with today's read models, three processes do
    all that more can; docs/scale.md).
    """
    best = _balanced(projections, 1)
    for count in range(2, min(jobs, len(projections)) + 1):
        candidate = _balanced(projections, count)
        if _heaviest(candidate) < _heaviest(best):
            best = candidate
    return best


def _heaviest(parts: list[list[Projection]]) -> int:
    """The weight of the heaviest group: what a rebuild in these groups waits for."""
    return max(sum(p.weight for p in group) for group in parts)


def _balanced(projections: Sequence[Projection], count: int) -> list[list[Projection]]:
    """`count` groups of about equal weight: the heaviest first, each onto the lightest group so far."""
    bins: list[list[Projection]] = [[] for _ in range(max(1, count))]
    for projection in sorted(projections, key=lambda p: -p.weight):
        min(bins, key=lambda group: sum(p.weight for p in group)).append(projection)
    order = {projection.name: index for index, projection in enumerate(projections)}
    return [sorted(group, key=lambda p: order[p.name]) for group in bins]


def _init(progress: Any) -> None:
    faults.arm_from_env()  # a worker process is the process a fault test means to kill
    _worker["progress"] = progress


def _rebuild_group(
    settings: Settings, names: Sequence[str], progress: Progress | None = None
) -> tuple[int, float, float]:
    """Rebuild one group in this process; (notifications read, started, ended), wall clock.

    In a worker process the progress goes to the parent's queue, named by the group's first projection.
    """
    sink = _worker.get("progress")
    if progress is None and sink is not None:
        progress = lambda position, head: sink.put((names[0], position, head))  # noqa: E731
    runner = projection_runner(settings, names)
    try:
        started = time.time()
        with cyclic_gc_paused():
            read = runner.rebuild(names, progress)
        return read, started, time.time()
    finally:
        runner.close()


def rebuild(
    settings: Settings, names: Sequence[str] | None = None, jobs: int = 1, progress: Progress | None = None
) -> Rebuilt:
    """Drop and rebuild the named projections (all by default) on up to `jobs` processes, then catch up."""
    chosen = [BY_NAME[name] for name in names] if names else list(BY_NAME.values())
    parts = [[p.name for p in group] for group in groups(chosen, jobs)]
    if len(parts) == 1:
        read, started, ended = _rebuild_group(settings, parts[0], progress)
    else:
        read, started, ended = _in_processes(settings, parts, progress)
    runner = projection_runner(settings, [p.name for p in chosen])  # what was stored meanwhile
    try:
        with cyclic_gc_paused():
            read += runner.catch_up()
    finally:
        runner.close()
    return Rebuilt(tuple(p.name for p in chosen), read, len(parts), started, max(ended, time.time()))


class CaughtUp(NamedTuple):
    """What a catch-up did."""

    read: int  # notifications read
    position: int  # the lowest read model's position after it
    loaded: tuple[str, ...]  # the read models that had applied nothing, loaded in memory


def catch_up(settings: Settings, jobs: int = 1, progress: Progress | None = None) -> CaughtUp:
    """Apply everything stored since each read model's position.

    The read models that have applied nothing yet (a store whose read models never ran, one new in this version)
    are loaded as a rebuild loads them, in memory and on up to `jobs` processes, when the log holds more than a
    page: page by page, as a follower goes, took 2.3-2.9 times as long as one process (docs/read-models.md). The
    rest go on page by page from where they are.
    """
    runner = projection_runner(settings)
    try:
        never_ran = tuple(name for name, position in runner.positions.items() if position == 0)
        loaded = never_ran if runner.head() > runner.page else ()
        read = 0
        if loaded:
            read = rebuild(settings, loaded, jobs, progress).notifications
            runner.load_positions()
        read += runner.catch_up(progress)
        return CaughtUp(read, min(runner.positions.values()), loaded)
    finally:
        runner.close()


def _in_processes(settings: Settings, parts: list[list[str]], progress: Progress | None) -> tuple[int, float, float]:
    context = get_context("spawn")
    sink = context.Queue() if progress is not None else None
    positions = {part[0]: 0 for part in parts}
    with ProcessPoolExecutor(len(parts), mp_context=context, initializer=_init, initargs=(sink,)) as pool:
        futures: list[Future[tuple[int, float, float]]] = [
            pool.submit(_rebuild_group, settings, part) for part in parts
        ]
        while sink is not None and progress is not None and not all(f.done() for f in futures):
            try:
                first, position, head = sink.get(timeout=0.2)
            except queue.Empty:
                continue
            positions[first] = position
            progress(min(positions.values()), head)
        try:
            results = [future.result() for future in futures]
        except BrokenProcessPool as error:
            raise RebuildProcessDied(str(error)) from None
    return max(r[0] for r in results), min(r[1] for r in results), max(r[2] for r in results)
