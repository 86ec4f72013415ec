"""Publishing contract events the way upstream billing should: what `fengkong publish` does.

Account events go to the events topic keyed by `account_id` (Kafka's default
murmur2 partitioner). DayClosed goes to the clock topic, or, with
`clock_topic=None`, straight into every partition of the events topic as
header-marked copies, in line with the account events (the deterministic
variant: each partition sees the day close exactly where upstream closed it).
Lines that are not valid JSON objects are published as they are (no key):
the workers dead-letter them, which is what tests of bad input need. A line
larger than a Kafka record may be (`MAX_RECORD_BYTES`, the broker's default
`message.max.bytes`) is not published: it is counted as `oversized`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from adapters.kafka.clock import day_closed_copies, partition_count

ACK_TIMEOUT_S = 120.0
MAX_RECORD_BYTES = 1024 * 1024


def _kind(line: bytes) -> tuple[str | None, bytes | None]:
    """(type, key) of a line, as far as it can be read."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    account_id = obj.get("account_id")
    kind = obj.get("type")
    return (kind if isinstance(kind, str) else None), (account_id.encode() if isinstance(account_id, str) else None)


def publish_lines(producer: Any, lines: Iterable[bytes], events_topic: str, clock_topic: str | None) -> Counter[str]:
    """Send every line and wait for all acknowledgements; counts by destination."""
    counts: Counter[str] = Counter()
    futures: list[Any] = []
    partitions = partition_count(producer, events_topic) if clock_topic is None else 0
    for line in lines:
        kind, key = _kind(line)
        if kind == "DayClosed" and clock_topic is not None:
            _wait(producer, futures)  # the day's events are on the broker before its close is announced
            futures.append(producer.send(clock_topic, value=line))
            counts["clock"] += 1
        elif kind == "DayClosed":
            futures += day_closed_copies(producer, events_topic, line, partitions)
            counts["clock_copies"] += partitions
        else:
            futures.append(producer.send(events_topic, key=key, value=line))
            counts["events"] += 1
        if len(futures) >= 10_000:
            _wait(producer, futures)
    _wait(producer, futures)
    return counts


def _wait(producer: Any, futures: list[Any]) -> None:
    producer.flush(timeout=ACK_TIMEOUT_S)
    for future in futures:
        future.get(timeout=ACK_TIMEOUT_S)
    futures.clear()
