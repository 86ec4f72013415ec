"""The platform clock on Kafka: one DayClosed, a copy in every partition of `billing.events`.

A DayClosed names no account, yet must reach every worker's accounts, in a
deterministic place among each partition's account events. Upstream
publishes it once to `billing.clock` (one partition, so dates stay ordered);
`fengkong clock-relay` copies the original bytes into every partition of
`billing.events`, each copy with the header `fengkong-clock-partition` naming
its partition. A worker applies a copy in partition order and brings the day
only to the accounts keyed onto that partition; the first copy applied records
the date on the engine's clock, the others are duplicates that still fan out.

The clock relay is at least once: it commits its Kafka offset on the clock
topic after every copy is acknowledged, so a crash repeats copies, which the
engine treats as duplicates. All copies of one date are written before any
copy of the next, so every partition sees the dates in order. Several clock
relays may run in one group: the single partition gives one of them the work.
If the broker is unavailable the relay seeks back to the first record it
could not copy and retries after a backoff, so no date is skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.kafka.client import KafkaConsumer, KafkaError, KafkaProducer, OffsetAndMetadata, TopicPartition
from adapters.kafka.config import (
    CLOCK_GROUP,
    CLOCK_ORIGIN_HEADER,
    CLOCK_PARTITION_HEADER,
    CLOCK_TOPIC,
    DEAD_LETTER_TOPIC,
    EVENTS_TOPIC,
    GroupTiming,
)
from adapters.kafka.dead_letters import DeadLetter, DeadLetterTopic, dead_letter
from adapters.kafka.retry import CLIENT_RECONNECT, Backoff, transient, wait_after_failure
from adapters.monitoring import metrics
from adapters.runtime import faults
from events.inbound import DayClosed, InvalidEvent, parse_event

log = logging.getLogger(__name__)
ACK_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 10.0


def day_closed_copies(
    producer: Any, events_topic: str, value: bytes, partitions: int, origin: str | None = None
) -> list[Any]:
    """Send one copy of a DayClosed to each partition of the events topic; the send futures."""
    futures = []
    for partition in range(partitions):
        headers = [(CLOCK_PARTITION_HEADER, str(partition).encode())]
        if origin:
            headers.append((CLOCK_ORIGIN_HEADER, origin.encode()))
        futures.append(producer.send(events_topic, value=value, partition=partition, headers=headers))
    return futures


def partition_count(producer: Any, topic: str) -> int:
    """How many partitions `topic` has, as the producer's metadata sees it."""
    partitions = producer.partitions_for(topic)
    if not partitions:
        raise KafkaError(f"topic {topic!r} does not exist; create it with `fengkong topics`")
    return len(partitions)


@dataclass(frozen=True)
class ClockSettings:
    bootstrap_servers: str
    clock_topic: str = CLOCK_TOPIC
    events_topic: str = EVENTS_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    group_id: str = CLOCK_GROUP
    client_id: str = "fengkong-clock-relay"
    poll_timeout_ms: int = 500
    timing: GroupTiming = field(default_factory=GroupTiming)


class ClockRelay:
    """Copies each DayClosed from the clock topic into every partition of the events topic."""

    def __init__(self, settings: ClockSettings, *, consumer: Any = None, producer: Any = None) -> None:
        self.settings = settings
        self.consumer = consumer or KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=settings.group_id,
            client_id=settings.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,
            max_poll_records=100,
            **settings.timing.consumer_configs(),
            **CLIENT_RECONNECT,
        )
        self.producer = producer or KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.client_id,
            enable_idempotence=True,
            acks="all",
            **CLIENT_RECONNECT,
        )
        self.dead_letters = DeadLetterTopic(self.producer, settings.dead_letter_topic)
        self.copied = 0
        self.retries = 0
        self.backoff = Backoff()
        self._subscribed = False

    def relay_records(self, records: Sequence[Any]) -> None:
        """Copy valid DayClosed records (in order) and dead-letter the rest; wait for every ack."""
        partitions = partition_count(self.producer, self.settings.events_topic)
        futures: list[Any] = []
        letters: list[DeadLetter] = []
        for record in records:
            reason = _refusal(record.value)
            if reason is not None:
                letters.append(dead_letter(record, reason, "contract"))
                continue
            origin = f"{record.topic}:{record.partition}:{record.offset}"
            futures += day_closed_copies(self.producer, self.settings.events_topic, record.value, partitions, origin)
        self.producer.flush(timeout=ACK_TIMEOUT_S)
        for future in futures:
            future.get(timeout=ACK_TIMEOUT_S)
        self.dead_letters.publish(letters)
        self.copied += len(futures) // partitions
        metrics.CLOCK_COPIES.inc(len(futures) // partitions)

    def poll_once(self) -> int:
        if not self._subscribed:
            self.consumer.subscribe([self.settings.clock_topic])
            self._subscribed = True
        polled = self.consumer.poll(timeout_ms=self.settings.poll_timeout_ms)
        count = 0
        for tp in sorted(polled):
            records = polled[tp]
            try:
                self.relay_records(records)
                faults.reached("clock.after_copies")
                self.consumer.commit(
                    {TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(records[-1].offset + 1)}
                )
            except BaseException:
                self.consumer.seek(tp, records[0].offset)  # copy them again: never skip a date
                raise
            count += len(records)
            end = self.consumer.highwater(tp)
            if end is not None:
                metrics.set_consumer_lag(tp.topic, tp.partition, end - records[-1].offset - 1)
            log.info("copied %d clock records into every partition of %s", len(records), self.settings.events_topic)
        return count

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> int:
        try:
            while not stop.is_set() and not (until and until()):
                try:
                    self.poll_once()
                except transient() as error:
                    self.retries += 1
                    wait_after_failure("copying DayClosed records", error, self.backoff, stop, log)
                    continue
                self.backoff.reset()
        finally:
            self.consumer.close(autocommit=False)
            self.producer.close(timeout=CLOSE_TIMEOUT_S)
        return self.copied


def _refusal(value: bytes | None) -> str | None:
    if not value:
        return "event: empty message (no value)"
    try:
        parsed = parse_event(value)
    except InvalidEvent as error:
        return error.reason
    if not isinstance(parsed.event, DayClosed):
        return f"type: only DayClosed belongs on the clock topic, got {parsed.event.type}"
    return None
