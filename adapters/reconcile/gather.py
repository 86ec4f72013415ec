"""Reading what reconciliation compares: input files and topics, dead letters, the store, the read models.

Everything is yielded lazily, so a store of millions of events is read once,
page by page, in the order `compare.reconcile` consumes it.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from adapters.files.jsonl import Oversized, read_lines, whole_lines
from adapters.kafka.config import (
    COMMAND_ID_HEADER,
    ERROR_HEADER,
    PAYLOAD_BYTES_HEADER,
    PAYLOAD_DIGEST_HEADER,
    PAYLOAD_SHA256_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
    header,
)
from adapters.kafka.dead_letters import kept_value
from adapters.privacy.masking import letter_digest
from adapters.reconcile.compare import Fact, Indexed, Letter, Message, ReadModels, RecordedCommand
from adapters.store import queries
from adapters.store.readers import EngineTables, StoredLog
from adapters.store.tables import POSITIONS, ProjectionDatabase, table_name
from events.inbound import load_object
from events.operator import recorded_digest
from events.recorded import CLOCK_ACTION_TOPIC, CLOCK_STREAM, DAY_TOPIC, FACT_TOPIC, decode, recorded_commands
from projections.account_status import ACCOUNT_STATUS

OffsetRange = Mapping[int, int]  # partition -> offset
LETTER_LIMIT = 1 << 20  # a dead letter of a message at the 64 KiB limit, its bytes escaped in JSON, fits

# ------------------------------------------------------------ files


def file_messages(path: str) -> Iterator[Message]:
    """Each event of a JSONL file, numbered as `fengkong ingest` numbers them (non-blank lines from 1)."""
    name = Path(path).name
    for number, line in enumerate(read_lines(path), start=1):
        yield Message(name, None, number, line.stand_in if isinstance(line, Oversized) else line)


def file_letters(path: Path) -> Iterator[Letter]:
    """Dead letters written by `fengkong ingest`: source 'FILE:N', the digest of the line, reason.

    Letters written before dead letters were masked kept the line itself: its digest is computed here.
    """
    for line in whole_lines(read_lines(str(path), limit=LETTER_LIMIT), Counter()):
        record = orjson.loads(line)
        source, _, number = str(record.get("source", "")).rpartition(":")
        if not number.isdigit():
            continue
        if "payload_sha256" in record:  # an oversized line: its letter keeps a prefix, the size and the digest
            digest = letter_digest(f"oversized:{record['payload_bytes']}:sha256:{record['payload_sha256']}")
        elif "payload_digest" in record:
            digest = str(record["payload_digest"])
        elif "payload" in record:
            digest = letter_digest(str(record["payload"]))
        else:
            digest = letter_digest(base64.b64decode(record.get("payload_base64", "")))
        yield Letter(Path(source).name, None, int(number), digest, str(record.get("reason", "")))


# ------------------------------------------------------------ topics


def topic_records(
    bootstrap: str,
    topic: str,
    start: OffsetRange | None = None,
    end: OffsetRange | None = None,
    timeout_s: float = 120.0,
) -> Iterator[Any]:
    """The records of `topic` from `start` (default: the beginning) up to `end` (exclusive; default: now).

    The Kafka client is imported here: a reconciliation of files and the store runs without it.
    """
    from adapters.kafka.client import KafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="fengkong-reconcile",
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:
            raise LookupError(f"topic {topic!r} does not exist")
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
        firsts = {tp.partition: offset for tp, offset in consumer.beginning_offsets(tps).items()}
        stops = {p: min(ends[p], (end or {}).get(p, ends[p])) for p in partitions}
        begins = {p: max(firsts[p], (start or {}).get(p, firsts[p])) for p in partitions}
        wanted = [tp for tp in tps if begins[tp.partition] < stops[tp.partition]]
        if not wanted:
            return
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, begins[tp.partition])
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < stops[tp.partition] for tp in wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} up to {stops} within {timeout_s:.0f}s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset < stops[tp.partition]:
                        yield record
    finally:
        consumer.close()


def topic_messages(
    bootstrap: str, topic: str, start: OffsetRange | None = None, end: OffsetRange | None = None
) -> Iterator[Message]:
    for record in topic_records(bootstrap, topic, start, end):
        yield Message(topic, record.partition, record.offset, kept_value(record.value))


def topic_letters(bootstrap: str, topic: str) -> Iterator[Letter]:
    """Dead letters on the dead-letter topic, by the source named in their headers."""
    for record in topic_records(bootstrap, topic):
        source = header(record.headers, SOURCE_TOPIC_HEADER)
        partition = header(record.headers, SOURCE_PARTITION_HEADER)
        offset = header(record.headers, SOURCE_OFFSET_HEADER)
        if source is None or partition is None or offset is None:
            continue
        size, whole = header(record.headers, PAYLOAD_BYTES_HEADER), header(record.headers, PAYLOAD_SHA256_HEADER)
        if whole is not None:
            digest = letter_digest(f"oversized:{size}:sha256:{whole}")
        else:
            digest = header(record.headers, PAYLOAD_DIGEST_HEADER) or letter_digest(record.value or b"")
        yield Letter(source, int(partition), int(offset), digest, header(record.headers, ERROR_HEADER) or "")


def published_commands(bootstrap: str, topic: str) -> Counter[str]:
    """command id -> how many times it is on the commands topic."""
    found: Counter[str] = Counter()
    for record in topic_records(bootstrap, topic):
        command_id = header(record.headers, COMMAND_ID_HEADER)
        if command_id is None and record.value:
            command_id = str(orjson.loads(record.value).get("command_id"))
        found[str(command_id)] += 1
    return found


# ------------------------------------------------------------ the store


def index_rows(tables: EngineTables) -> Iterator[Indexed]:
    for event_id, digest in tables.inbound():
        yield Indexed(event_id, digest)


def stored_facts(log: StoredLog) -> Iterator[Fact]:
    """Every recorded fact, on its stream (an account's, or the clock's), with the digest of the fact."""
    for notification in log.read_topics([FACT_TOPIC, DAY_TOPIC, CLOCK_ACTION_TOPIC]):
        fact = decode(notification.state)["fact"]
        kind = str(fact["type"])
        home = CLOCK_STREAM if "account_id" not in fact else str(fact["account_id"])
        digest = recorded_digest(load_object(fact))  # the canonical text, as on the way in
        stream = str(notification.originator_id)
        yield Fact(stream, str(fact["event_id"]), kind, digest, notification.id, home)


def stored_commands(log: StoredLog) -> Iterator[RecordedCommand]:
    """Every recorded command, in notification (emission) order."""
    for notification in log.read_topics([FACT_TOPIC]):
        stream = str(notification.originator_id)
        for command in recorded_commands(stream, decode(notification.state)):
            yield RecordedCommand(
                str(command["command_id"]), str(command["account_id"]), str(command["type"]), notification.id
            )


# ------------------------------------------------------------ read models


def read_models(db: ProjectionDatabase) -> ReadModels | None:
    """Projection positions and account_status card locks, or None if the read models were never built."""
    if not db.has_table(POSITIONS):
        return None
    positions = {
        str(name): int(position) for name, position in db.query(f"SELECT projection, position FROM {POSITIONS}")
    }
    locked, stuck = None, None
    if db.has_table(table_name(ACCOUNT_STATUS)):
        rows = db.query(f"SELECT account_id, card_locked FROM {table_name(ACCOUNT_STATUS)}")
        locked = {str(account_id): bool(flag) for account_id, flag in rows}
        stuck = [str(row["account_id"]) for row in queries.stuck_locks(db, limit=1_000_000).rows]
    return ReadModels(positions, locked, stuck)
