"""Dead letters on Kafka: the original bytes, why they were refused, where they came from.

A dead letter keeps the original key, value and headers, and adds headers
naming the error, the stage that refused it and the source topic, partition
and offset, so an operator can fix the producer and replay it. Letters are
flushed and acknowledged before the batch that refused them is recorded: a
crash may repeat a letter (the source offset header identifies repeats) but
never loses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.kafka.config import (
    ERROR_HEADER,
    EVENT_ID_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
    STAGE_HEADER,
    Headers,
)

MAX_REASON_BYTES = 4096
ACK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(record: Any, reason: str, stage: str, event_id: str | None = None) -> DeadLetter:
    """A dead letter for a consumed record (kafka-python ConsumerRecord)."""
    headers: Headers = [(str(key), bytes(value or b"")) for key, value in record.headers or ()]
    headers += [
        (ERROR_HEADER, reason.encode()[:MAX_REASON_BYTES]),
        (STAGE_HEADER, stage.encode()),
        (SOURCE_TOPIC_HEADER, str(record.topic).encode()),
        (SOURCE_PARTITION_HEADER, str(record.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(record.offset).encode()),
    ]
    if event_id:
        headers.append((EVENT_ID_HEADER, event_id.encode()[:256]))
    return DeadLetter(record.key, record.value, headers)


class DeadLetterTopic:
    """Publishes dead letters and waits until the broker has every one of them."""

    def __init__(self, producer: Any, topic: str, ack_timeout_s: float = ACK_TIMEOUT_S) -> None:
        self.producer = producer
        self.topic = topic
        self.ack_timeout_s = ack_timeout_s
        self.count = 0

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Send, flush, and raise if any letter was not acknowledged (the batch then is not recorded)."""
        if not letters:
            return
        futures = [
            self.producer.send(
                self.topic,
                key=letter.key,
                # Kafka needs a key or a value: an empty message without a key is kept as b"".
                value=letter.value if letter.value is not None or letter.key is not None else b"",
                headers=letter.headers,
            )
            for letter in letters
        ]
        self.producer.flush(timeout=self.ack_timeout_s)
        for future in futures:
            future.get(timeout=self.ack_timeout_s)
        self.count += len(letters)
