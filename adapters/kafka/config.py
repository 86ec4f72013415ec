"""Topic names, header names and client settings shared by the Kafka adapters."""

from __future__ import annotations

import os
from dataclasses import dataclass

EVENTS_TOPIC = "billing.events"
DEAD_LETTER_TOPIC = "billing.events.dlq"
CLOCK_TOPIC = "billing.clock"
COMMANDS_TOPIC = "risk.commands"
WORKER_GROUP = "fengkong-workers"
CLOCK_GROUP = "fengkong-clock-relay"
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"

# Headers (names as on the wire; values are UTF-8 text).
CLOCK_PARTITION_HEADER = "fengkong-clock-partition"  # a DayClosed copy: the billing.events partition it is for
CLOCK_ORIGIN_HEADER = "fengkong-clock-origin"  # a DayClosed copy: topic:partition:offset on the clock topic
ERROR_HEADER = "fengkong-error"  # a dead letter: why it was refused (never echoes input values)
STAGE_HEADER = "fengkong-stage"  # a dead letter: contract | engine | routing
SOURCE_TOPIC_HEADER = "fengkong-source-topic"
SOURCE_PARTITION_HEADER = "fengkong-source-partition"
SOURCE_OFFSET_HEADER = "fengkong-source-offset"
EVENT_ID_HEADER = "fengkong-event-id"
PAYLOAD_BYTES_HEADER = "fengkong-payload-bytes"  # a dead letter of an oversized value: its size
PAYLOAD_SHA256_HEADER = "fengkong-payload-sha256"  # and its SHA-256 (the letter keeps a prefix)
PAYLOAD_DIGEST_HEADER = "fengkong-payload-digest"  # a dead letter: the digest reconcile pairs it by (masked value's)
PAYLOAD_SEALED_HEADER = "fengkong-payload-sealed"  # a dead letter the engine could seal: the event, sealed
COMMAND_ID_HEADER = "command_id"
COMMAND_TYPE_HEADER = "command_type"
NOTIFICATION_HEADER = "fengkong-notification-id"

Headers = list[tuple[str, bytes]]


def bootstrap_servers(explicit: str | None = None) -> str:
    """The brokers named on the command line, else $KAFKA_BOOTSTRAP_SERVERS, else localhost:9092."""
    return explicit or os.environ.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP


def header(headers: Headers | None, name: str) -> str | None:
    """The last value of a header as text, or None."""
    found = None
    for key, value in headers or ():
        if key == name and value is not None:
            found = value.decode("utf-8", "replace")
    return found


@dataclass(frozen=True)
class GroupTiming:
    """Consumer-group timeouts: short ones make rebalances and crash recovery fast.

    A member that does not heartbeat for `session_timeout_ms` is dropped; one
    that does not poll for `max_poll_interval_ms` leaves by itself (its late
    writes are then harmless, see docs/kafka.md on zombies).
    """

    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000

    def consumer_configs(self) -> dict[str, int]:
        return {
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
        }
