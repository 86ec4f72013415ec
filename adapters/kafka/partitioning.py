"""Which partition an account's events live on: Kafka's default partitioner.

Java clients and kafka-python place a keyed record on murmur2(key) mod the
partition count. A worker owns the accounts of its partitions, and brings a
closed business day only to them (engine `day_scope`). Producers with another
partitioner (librdkafka's default is CRC32) must use murmur2 for
`billing.events`; workers count and log records that arrive elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.kafka.client import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` among `partitions`."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def account_scope(partition: int, partitions: int) -> Callable[[str], bool]:
    """account_id -> True when that account's events are keyed onto `partition`."""
    return lambda account_id: partition_for(account_id.encode(), partitions) == partition


def accounts_of(partitions: set[int], total: int) -> Callable[[str], bool]:
    """account_id -> True when that account's events are keyed onto one of `partitions`."""
    if len(partitions) == 1:
        return account_scope(next(iter(partitions)), total)
    return lambda account_id: partition_for(account_id.encode(), total) in partitions
