"""Dead letters on Kafka: the message with its personal data masked, why it was refused, where it came from.

A dead letter keeps the original key and headers and the value with its
personal data masked (adapters.privacy.masking; a value over
`MAX_LETTER_BYTES`: its first `PREFIX_BYTES` bytes, masked, with its size and
SHA-256 in headers), and adds headers naming the error, the stage that refused
it, the source topic, partition and offset, the digest reconcile pairs it by
and, for an event the engine sealed, the event sealed (an operator reveals it
to fix the producer and replay it). Letters are
flushed and acknowledged before the batch that refused them is recorded: a
crash may repeat a letter (the source offset header identifies repeats) but
never loses one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.kafka.config import (
    ERROR_HEADER,
    EVENT_ID_HEADER,
    PAYLOAD_BYTES_HEADER,
    PAYLOAD_DIGEST_HEADER,
    PAYLOAD_SEALED_HEADER,
    PAYLOAD_SHA256_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
    STAGE_HEADER,
    Headers,
)
from adapters.privacy.masking import letter_digest, mask_payload

MAX_REASON_BYTES = 4096
MAX_LETTER_BYTES = 1024 * 1024  # Kafka's default record limit: a larger value never fits a dead letter
PREFIX_BYTES = 1024
ACK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(
    record: Any, reason: str, stage: str, event_id: str | None = None, sealed: str | None = None
) -> DeadLetter:
    """A dead letter for a consumed record (kafka-python ConsumerRecord); `sealed`: the event the engine sealed."""
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
    if sealed:
        headers.append((PAYLOAD_SEALED_HEADER, sealed.encode()))
    value = record.value
    if value is not None and len(value) > MAX_LETTER_BYTES:
        headers += [
            (PAYLOAD_BYTES_HEADER, str(len(value)).encode()),
            (PAYLOAD_SHA256_HEADER, hashlib.sha256(value).hexdigest().encode()),
        ]
        value = mask_payload(value[:PREFIX_BYTES])
    elif value is not None:
        headers.append((PAYLOAD_DIGEST_HEADER, letter_digest(value).encode()))
        value = mask_payload(value)
    return DeadLetter(record.key, value, headers)


def kept_value(value: bytes | None) -> bytes | None:
    """What a dead letter of this value holds in its place (reconcile pairs messages and letters by it)."""
    if value is None or len(value) <= MAX_LETTER_BYTES:
        return value
    return f"oversized:{len(value)}:sha256:{hashlib.sha256(value).hexdigest()}".encode()


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
