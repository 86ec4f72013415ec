"""Riding out a broker or database outage: which errors wait, and for how long.

A worker, relay or clock relay that meets an unavailable broker or store
does not exit (a supervisor restarting it in a loop would only add load to
the struggling service). It abandons the batch in flight, which was not
recorded, waits with exponential backoff, and starts again from the
positions the store holds, so nothing is skipped and nothing applied twice.
Errors that are not about availability (defects) still end the process.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from adapters.kafka.client import KafkaError
from adapters.store.availability import store_unavailable
from engine.application import StoreConflict


def transient() -> tuple[type[BaseException], ...]:
    """Errors of availability: the work is retried from the store's positions after a pause.

    Asked when an error is caught: the store's errors include psycopg's once it is loaded (adapters.store.availability).
    """
    return (
        KafkaError,  # broker unreachable, request timed out, leader moved, not acknowledged in time
        *store_unavailable(),
        StoreConflict,  # another writer kept winning (a rebalance in progress)
    )


T = TypeVar("T")

CLIENT_RECONNECT = {"reconnect_backoff_max_ms": 5_000, "bootstrap_timeout_ms": 10_000}
"""kafka-python backs off reconnecting up to 30 s by default; 5 s resumes soon after a broker returns.

A client that cannot reach any broker when it is made gives up after 10 s (not 30): the process's
own loop then logs one line and waits its backoff before it tries again.
"""


@dataclass
class Backoff:
    """Exponential backoff with a ceiling and a little jitter; reset after a success."""

    initial_s: float = 0.5
    maximum_s: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum_s, self.initial_s * 2**self.failures)
        self.failures += 1
        return float(round(delay * random.uniform(0.9, 1.1), 2))

    def reset(self) -> None:
        self.failures = 0


def brief(error: BaseException, limit: int = 300) -> str:
    """'Type: message' on one line and bounded; messages name hosts and tables, never payloads."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:limit]}" if text else type(error).__name__


def wait_after_failure(
    what: str, error: BaseException, backoff: Backoff, stop: threading.Event, logger: logging.Logger
) -> None:
    """Log one line about the failure and sleep the backoff (SIGTERM cuts the sleep short)."""
    delay = backoff.next_delay()
    logger.warning(
        "%s failed (%s); retrying in %.1fs (failure %d in a row)",
        what,
        brief(error),
        delay,
        backoff.failures,
    )
    stop.wait(delay)


def patiently(make: Callable[[], T], stop: threading.Event, logger: logging.Logger) -> T | None:
    """Make a long-running process's clients, waiting out a broker or store not up yet (None: stopped meanwhile).

    A supervisor may start the workers before the broker: exiting would only restart them in a loop.
    """
    backoff = Backoff()
    while not stop.is_set():
        try:
            return make()
        except transient() as error:
            what = "connecting to Kafka" if isinstance(error, KafkaError) else "opening the store"
            wait_after_failure(what, error, backoff, stop, logger)
    return None
