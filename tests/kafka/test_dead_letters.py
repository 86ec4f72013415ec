"""Every kind of bad message reaches the dead-letter topic, intact and explained; the partition goes on."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.kafka.clock import ClockRelay, ClockSettings
from adapters.kafka.config import (
    CLOCK_PARTITION_HEADER,
    ERROR_HEADER,
    PAYLOAD_DIGEST_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
    STAGE_HEADER,
)
from adapters.kafka.dead_letters import DeadLetter, DeadLetterTopic
from adapters.kafka.partitioning import partition_for
from adapters.privacy.masking import letter_digest, mask_payload
from tests.builders import Events
from tests.kafka.support import (
    FAST,
    Topics,
    WorkerThread,
    assert_same,
    caught_up,
    headers,
    portfolio,
    producer,
    publish,
    read_topic,
    reference_run,
    snapshot,
    wait_for,
)
from tests.support.wiring import open_engine

pytestmark = pytest.mark.kafka


def bad_messages(partition: int, partitions: int) -> list[tuple[bytes | None, list[tuple[str, bytes]], str, str]]:
    """(value, headers, stage, words the error must contain) for each kind of refusal."""
    e = Events("DLQA")
    opened = e.opened()
    bill = e.bill("b1", "100.00", "2026-09-01")
    no_amount = e.bill("b2", "1.00", "2026-09-01")
    del no_amount["data"]["amount"]
    float_amount = e.bill("b3", "1.00", "2026-09-01")
    float_amount["data"]["amount"] = 12.3
    version_two = e.bill("b4", "1.00", "2026-09-01") | {"schema_version": 2}
    unknown_type = e.bill("b5", "1.00", "2026-09-01") | {"type": "BillForgiven"}
    oversized = e.opened() | {"data": {**opened["data"], "customer_id": "x" * 128, "card_ref": "y" * 128}}
    oversized["padding"] = "z" * 70_000
    ghost = Events("GHOST").bill("g1", "1.00", "2026-09-01")
    reused = opened | {"data": {**opened["data"], "customer_id": "someone-else"}}
    day = Events("clock").day_closed("2026-09-30")
    other = str((partition + 1) % partitions).encode()

    def raw(event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    return [
        (raw(opened), [], "", ""),
        (b"{not json", [], "contract", "malformed JSON"),
        (b"\xff\xfe\x00\x01", [], "contract", "not UTF-8"),
        (b"[1, 2]", [], "contract", "must be a JSON object"),
        (raw(unknown_type), [], "contract", "unknown event type"),
        (raw(no_amount), [], "contract", "data.amount: required field is missing"),
        (raw(float_amount), [], "contract", "data.amount"),
        (raw(version_two), [], "contract", "schema_version"),
        (raw(oversized), [], "contract", "exceeds the 65536-byte limit"),
        (None, [], "contract", "empty message"),
        (raw(ghost), [], "engine", "unknown account"),
        (raw(reused), [], "engine", "already recorded with a different payload"),
        (raw(day), [], "routing", "clock topic"),
        (raw(day), [(CLOCK_PARTITION_HEADER, other)], "routing", f"copy for partition {other.decode()}"),
        (raw(bill), [], "", ""),
    ]


def test_each_kind_of_bad_message_is_dead_lettered_with_its_source_and_reason(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    partition = partition_for(b"DLQA", topics.partitions)
    sent = []
    client = producer(bootstrap)
    try:
        for value, extra, stage, words in bad_messages(partition, topics.partitions):
            meta = client.send(topics.events, key=b"DLQA", value=value, headers=extra, partition=partition).get(30)
            sent.append((meta.offset, value, stage, words))
        clock_meta = client.send(topics.clock, value=json.dumps(Events("X").opened()).encode()).get(30)
    finally:
        client.close()
    store = str(tmp_path / "store.db")

    worker = WorkerThread(store, bootstrap, topics, group).start()
    wait_for(caught_up(store, bootstrap, topics.events), 60, "the worker to pass every bad message")
    stats = worker.stop()
    clock = ClockRelay(ClockSettings(bootstrap, topics.clock, topics.events, topics.dead_letters, timing=FAST))
    wait_for(lambda: clock.poll_once() >= 0 and clock.dead_letters.count == 1, 60, "the clock relay's refusal")
    clock.consumer.close()
    clock.producer.close()

    refused = [(offset, value, stage, words) for offset, value, stage, words in sent if stage]
    letters = read_topic(bootstrap, topics.dead_letters)
    assert len(letters) == len(refused) + 1
    by_offset = {
        int(headers(letter)[SOURCE_OFFSET_HEADER]): letter
        for letter in letters
        if headers(letter)[SOURCE_TOPIC_HEADER] == topics.events
    }
    assert sorted(by_offset) == [offset for offset, *_ in refused]
    for offset, value, stage, words in refused:
        letter = by_offset[offset]
        info = headers(letter)
        if value is not None:
            assert letter.value == mask_payload(value), "the message, its personal data masked"
            assert info[PAYLOAD_DIGEST_HEADER] == letter_digest(value)
        assert letter.key == b"DLQA"
        assert info[SOURCE_PARTITION_HEADER] == str(partition)
        assert info[STAGE_HEADER] == stage, info[ERROR_HEADER]
        assert words in info[ERROR_HEADER]
    copy = by_offset[refused[-1][0]]
    assert headers(copy)[CLOCK_PARTITION_HEADER] != str(partition), "the original headers are kept"
    (clock_letter,) = [letter for letter in letters if headers(letter)[SOURCE_TOPIC_HEADER] == topics.clock]
    assert headers(clock_letter)[SOURCE_OFFSET_HEADER] == str(clock_meta.offset)
    assert "only DayClosed" in headers(clock_letter)[ERROR_HEADER]

    # The partition went on: both valid events around the bad ones were applied, once.
    account = open_engine(store).account("DLQA")
    assert account is not None and account.ledger.outstanding > 0
    assert stats.accepted == 2 and stats.dead_letters == len(refused)


class CrashAfterPublishing(DeadLetterTopic):
    """Dies at the worst instant: its letters are on the broker, the batch is not yet recorded."""

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        super().publish(letters)
        if letters:
            raise SystemExit("worker killed after publishing dead letters, before recording the batch")


def test_a_crash_between_dead_letters_and_the_transaction_repeats_letters_and_loses_nothing(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=120, days=60)
    reference = reference_run(lines, tmp_path / "reference.db")
    assert reference.rejected > 0
    publish(bootstrap, lines, topics)
    store = str(tmp_path / "store.db")

    doomed = WorkerThread(store, bootstrap, topics, group, max_poll_records=50)
    doomed.worker.dead_letters = CrashAfterPublishing(doomed.worker.producer, topics.dead_letters)
    doomed.start()
    doomed.thread.join(60)
    assert isinstance(doomed.error, SystemExit)
    assert not caught_up(store, bootstrap, topics.events)()

    worker = WorkerThread(store, bootstrap, topics, group).start()
    wait_for(caught_up(store, bootstrap, topics.events), 60, "the restarted worker to catch up")
    worker.stop()

    assert_same(snapshot(store), reference.snapshot)
    letters = read_topic(bootstrap, topics.dead_letters)
    sources = Counter((headers(r)[SOURCE_PARTITION_HEADER], headers(r)[SOURCE_OFFSET_HEADER]) for r in letters)
    assert len(sources) == reference.rejected, "every refused record has a dead letter"
    assert max(sources.values()) == 2, "the crashed batch's letters were published again"
