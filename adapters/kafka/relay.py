"""`fengkong relay`: the command outbox (recorded decisions) to `risk.commands`.

Every command is inside a `Decided` event in the store's notification log,
saved in the same transaction as the facts that caused it: that log is the
outbox. The relay reads it in notification order, publishes each command
(key = account_id, header `command_id`) with an idempotent producer, waits
for every acknowledgement, and only then records the next notification id in
the store (`fengkong_positions`, source `relay:<topic>`).

Guarantee: at least once. A crash after publishing and before recording
resends that page on restart; downstream drops repeats by `command_id`,
which is stable across replays. Nothing is skipped: notification ids are
committed in order (PostgreSQL serialises inserts with a table lock; SQLite
has one writer), so the relay never passes a gap that fills in later.
Run one relay per store and topic; a second one only adds duplicates.
An unavailable broker or store is waited out with backoff; the page is then
read again from the recorded position (adapters.kafka.retry).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from adapters.kafka.client import KafkaProducer
from adapters.kafka.config import COMMAND_ID_HEADER, COMMAND_TYPE_HEADER, COMMANDS_TOPIC, NOTIFICATION_HEADER
from adapters.kafka.retry import CLIENT_RECONNECT, Backoff, transient, wait_after_failure
from adapters.monitoring import metrics
from adapters.runtime import faults
from engine.collector import cyclic_gc_paused
from events.recorded import OutboxPage

log = logging.getLogger(__name__)
ACK_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RelaySettings:
    bootstrap_servers: str
    topic: str = COMMANDS_TOPIC
    page: int = 500
    # Drained, the relay lingers: it asks the store for its head every `linger_s` and reads the next page as
    # soon as a commit put anything past it (a few milliseconds after the worker's commit, not a timer's tick).
    linger_s: float = 0.005
    idle_s: float = 1.0  # at most this long between pages when nothing is committed (logs, lag gauge)
    client_id: str = "fengkong-relay"
    log_every_s: float = 10.0
    lag_every_s: float = 1.0  # the store's head is read this often for the relay-lag gauge
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    ack_timeout_s: float = ACK_TIMEOUT_S  # a page not acknowledged by then is sent again after a backoff

    @property
    def source(self) -> str:
        """The relay's row in fengkong_positions (partition 0 = next notification id)."""
        return f"relay:{self.topic}"


class Outbox(Protocol):
    """The recorded commands in emission order, and the relay's position in them (adapters.store.readers)."""

    def position(self) -> int: ...
    def head(self) -> int: ...
    def page(self, start: int, limit: int) -> OutboxPage: ...
    def advance(self, next_position: int) -> None: ...
    def close(self) -> None: ...


class CommandRelay:
    def __init__(self, outbox: Outbox, settings: RelaySettings, *, producer: Any = None) -> None:
        self.outbox = outbox
        self.settings = settings
        self.producer = producer or KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            **CLIENT_RECONNECT,
        )
        self.published = 0
        self.retries = 0
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self._last_log = time.monotonic()
        self._last_lag = 0.0

    def position(self) -> int:
        """The next notification id to read, as the store recorded it."""
        return self.outbox.position()

    def relay_once(self) -> int:
        """Publish one page of the outbox and record the position; the number of recorded facts read."""
        page = self.outbox.page(self.outbox.position(), self.settings.page)
        if not page.read:
            return 0
        futures = []
        for notification_id, command in page.commands:
            futures.append(
                self.producer.send(
                    self.settings.topic,
                    key=str(command["account_id"]).encode(),
                    value=orjson.dumps(command),
                    headers=[
                        (COMMAND_ID_HEADER, str(command["command_id"]).encode()),
                        (COMMAND_TYPE_HEADER, str(command["type"]).encode()),
                        (NOTIFICATION_HEADER, str(notification_id).encode()),
                    ],
                )
            )
            faults.reached("relay.after_send")
        self.producer.flush(timeout=self.settings.ack_timeout_s)
        for future in futures:
            future.get(timeout=self.settings.ack_timeout_s)  # raises: the page is then not recorded, and resent
        faults.reached("relay.after_ack")
        self.outbox.advance(page.next_position)
        self.published += len(futures)
        return page.read

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> int:
        """Relay until `stop` is set; lingers when the outbox is drained. Returns commands published.

        A page that fails (broker or store unavailable) is not recorded: after a backoff it is read
        again from the recorded position and published again (at least once).
        """
        gc.freeze()  # what start-up made (modules, clients) lives as long as the relay: out of the collector's sight
        try:
            while not stop.is_set() and not (until and until()):
                try:
                    head = self.outbox.head()  # anything committed after this is new to the page read next
                    with cyclic_gc_paused():  # a page's objects are freed by reference counting; no pause mid-page
                        relayed = self.relay_once()
                    self._observe_lag(drained=relayed == 0)
                    if relayed < self.settings.page:
                        self._linger(head, stop)
                except transient() as error:
                    self.retries += 1
                    wait_after_failure("publishing a page of commands", error, self.backoff, stop, log)
                    continue
                self.backoff.reset()
                if time.monotonic() - self._last_log >= self.settings.log_every_s:
                    self._last_log = time.monotonic()
                    log.info("relayed %d commands; next notification %d", self.published, self.position())
        finally:
            self.producer.close(timeout=CLOSE_TIMEOUT_S)
            self.outbox.close()
        log.info("relay stopped after %d commands", self.published)
        return self.published

    def _linger(self, head: int, stop: threading.Event) -> None:
        """Wait until the store's head moves past `head` (a new commit), checking every `linger_s`."""
        deadline = time.monotonic() + self.settings.idle_s
        while not stop.wait(self.settings.linger_s) and time.monotonic() < deadline:
            if self.outbox.head() > head:
                return

    def _observe_lag(self, drained: bool) -> None:
        """0 once the outbox is drained; else the stored notifications from the relay's position to the head."""
        if not drained and time.monotonic() - self._last_lag < self.settings.lag_every_s:
            return
        self._last_lag = time.monotonic()
        lag = 0 if drained else max(0, self.outbox.head() - self.outbox.position() + 1)
        metrics.RELAY_LAG.labels(self.settings.topic).set(lag)
