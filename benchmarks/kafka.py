"""Kafka for rows 3-5: a broker the user names or a throwaway one, the bench's topics, the published sample.

Every run makes its own topics (a random suffix), so a run on a shared
broker neither reads another run's records nor leaves its own behind: they
are deleted at the end. The sample workload is published once, before any
row is timed, exactly as upstream would publish it: account events keyed by
`account_id` (Kafka's default partitioner) and each DayClosed as one
header-marked copy per partition, in line with the events (what the clock
relay writes; `fengkong publish --clock-copies`).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from adapters.kafka.client import KafkaAdminClient, KafkaConsumer, KafkaError, KafkaProducer, TopicPartition
from adapters.kafka.publish import publish_lines
from benchmarks.workload import Workload
from services import throwaway

PARTITIONS = 4
# kafka-python's own chatter (slow-task warnings of its IO loop while a row keeps the cores busy) is not a result.
logging.getLogger("kafka").setLevel(logging.ERROR)


class NoKafka(Exception):
    """No broker for the Kafka rows; the reason is printed instead of a figure."""


@contextlib.contextmanager
def kafka_broker(address: str | None) -> Iterator[str]:
    """The bootstrap servers to use: `address` itself, or 'auto' to start and stop a throwaway broker."""
    if not address:
        raise NoKafka("no --kafka (give HOST:PORT, or --kafka auto to start a throwaway broker)")
    if address != "auto":
        yield address
        return
    try:
        broker = throwaway.KafkaBroker(throwaway.kafka_libs(), heap="1g")
        broker.start()
    except throwaway.ServiceError as error:
        raise NoKafka(str(error)) from error
    except Exception as error:
        raise NoKafka(f"could not start a throwaway Kafka broker: {error}") from error
    try:
        yield broker.bootstrap_servers
    finally:
        broker.close()


@dataclass(frozen=True)
class Topics:
    """One set of the engine's topics: inbound events, their dead letters, outbound commands."""

    events: str
    dead_letters: str
    commands: str
    partitions: int = PARTITIONS

    @classmethod
    def fresh(cls, purpose: str, partitions: int = PARTITIONS) -> Topics:
        suffix = f"{purpose}-{uuid.uuid4().hex[:8]}"
        return cls(f"bench.events.{suffix}", f"bench.events.dlq.{suffix}", f"bench.commands.{suffix}", partitions)

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def specs(self) -> dict[str, int]:
        """Topic name -> partitions."""
        return {self.events: self.partitions, self.dead_letters: 1, self.commands: self.partitions}


def admin(bootstrap: str) -> Any:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="fengkong-bench", request_timeout_ms=30_000)


def create_topics(bootstrap: str, specs: dict[str, int]) -> None:
    """Create topics (name -> partitions) and wait until they have leaders."""
    client = admin(bootstrap)
    try:
        client.create_topics(
            {name: {"num_partitions": count, "replication_factor": 1} for name, count in specs.items()},
            wait_for_metadata=True,
        )
    finally:
        client.close()


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Remove the run's topics (quietly: a broker that is going away anyway may refuse)."""
    with contextlib.suppress(KafkaError, OSError):
        client = admin(bootstrap)
        try:
            client.delete_topics(names, timeout_ms=10_000, raise_errors=False)
        finally:
            client.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> end offset (the number of records ever written there)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def publish_workload(bootstrap: str, workload: Workload, topics: Topics) -> dict[str, Any]:
    """Publish every line of the workload as upstream does; what was written and how long it took."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="fengkong-bench-publish",
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
    )
    started = time.perf_counter()
    try:
        counts = publish_lines(producer, workload.lines(), topics.events, None)
    finally:
        producer.close()
    seconds = time.perf_counter() - started
    ends = end_offsets(bootstrap, topics.events)
    return {
        "topics": topics.describe(),
        "events": workload.events,
        "accounts": workload.accounts,
        "records": sum(ends.values()),
        "end_offsets": {str(partition): end for partition, end in ends.items()},
        "clock_copies": counts.get("clock_copies", 0),
        "publish_seconds": round(seconds, 1),
    }
