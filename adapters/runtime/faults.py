"""Fault injection: a process kills itself (SIGKILL) at a named point, for the reliability tests.

Off by default. `FENGKONG_FAULT=<point>:<n>[,<point>:<n>...]`, read once when
a worker, relay, clock relay or projection runner starts, makes the process
SIGKILL itself the n-th time execution passes `<point>`: the crash a power
cut or the OOM killer would cause, at the instant where it hurts most. A
warning naming the point is logged just before. Unknown points are refused
at start, so a misspelt fault cannot silently test nothing.

In-process tests may instead `arm()` a point with an action (called on every
pass) to fail a store write for real, e.g. fill a SQLite file or terminate a
PostgreSQL backend in the middle of the transaction.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

FAULT_ENV = "FENGKONG_FAULT"

POINTS: dict[str, str] = {
    "worker.before_transaction": "dead letters acknowledged by the broker, batch not yet saved",
    "store.in_transaction": "inside the store transaction: index rows written, not committed",
    "worker.after_transaction": "batch and offsets committed to the store, Kafka offset hint not yet committed",
    "relay.after_send": "a command handed to the producer, the page not yet acknowledged",
    "relay.after_ack": "the page acknowledged by the broker, the relay's position not yet recorded",
    "clock.after_copies": "DayClosed copies acknowledged, the clock topic offset not yet committed",
    "projections.in_page": "a page of read-model rows written, its positions not yet updated or committed",
    "projections.after_reset": "rebuild: tables dropped and recreated, nothing caught up yet",
    "projections.in_bulk_write": "rebuild: rows held in memory written, their positions not yet updated or committed",
}

Action = Callable[[int, Any], None]
"""Called as action(pass number, context) each time the point is passed."""

_kill_at: dict[str, int] = {}
_actions: dict[str, Action] = {}
_passes: Counter[str] = Counter()


def parse(spec: str) -> dict[str, int]:
    """'point:n,point:n' -> {point: n}; raises ValueError naming what is wrong."""
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, count = item.rpartition(":")
        if point not in POINTS:
            raise ValueError(f"{FAULT_ENV}: unknown fault point {point!r}; known: {', '.join(POINTS)}")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{FAULT_ENV}: {item!r} needs a pass number >= 1, e.g. {point}:3")
        armed[point] = int(count)
    return armed


def arm_from_env(environ: Mapping[str, str] | None = None) -> None:
    """Read FENGKONG_FAULT once, at process start."""
    spec = (os.environ if environ is None else environ).get(FAULT_ENV, "")
    if not spec:
        return
    _kill_at.update(parse(spec))
    log.warning("fault injection armed: %s", ", ".join(f"SIGKILL at pass {n} of {p}" for p, n in _kill_at.items()))


def arm(point: str, action: Action) -> None:
    """In-process tests: run `action` on every pass of `point`."""
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}")
    _actions[point] = action


def disarm() -> None:
    _kill_at.clear()
    _actions.clear()
    _passes.clear()


def reached(point: str, context: Any = None) -> None:
    """Mark a pass of `point`; dies there if armed for this pass. A dictionary lookup when off."""
    if not _kill_at and not _actions:
        return
    _passes[point] += 1
    count = _passes[point]
    action = _actions.get(point)
    if action is not None:
        action(count, context)
    if _kill_at.get(point) == count:
        log.warning("fault injection: SIGKILL at %s, pass %d (%s)", point, count, POINTS[point])
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
