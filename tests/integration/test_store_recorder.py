"""The event recorder on each database: a batch's rows come back byte for byte, in its order, under its ids."""

from __future__ import annotations

import hashlib

from eventsourcing.persistence import StoredEvent

from adapters.store.backends import open_recorder


def _state(index: int) -> bytes:
    """Every byte value, NUL and the high half included: what a wrong encoding or a shifted array would change."""
    return bytes((index * 7 + offset) % 256 for offset in range(300 + index))


def test_a_batch_is_stored_byte_for_byte_in_its_order_under_contiguous_ids(store: str) -> None:
    recorder = open_recorder(store)
    try:
        events = [
            StoredEvent(f"account-{index % 3}", index // 3 + 1, f"topic-{index % 2}", _state(index))
            for index in range(12)
        ]
        inbound = [(f"event-{index}", hashlib.sha256(_state(index)).digest()) for index in range(12)]

        ids = recorder.insert_events(events, inbound=inbound)

        assert ids is not None and len(ids) == len(events)
        assert list(ids) == list(range(ids[0], ids[0] + len(events)))
        stored = recorder.select_notifications(ids[0], limit=len(events) + 1)
        assert [n.id for n in stored] == list(ids)
        assert [(n.originator_id, n.originator_version, n.topic, bytes(n.state)) for n in stored] == [
            (e.originator_id, e.originator_version, e.topic, e.state) for e in events
        ]
        assert recorder.select_digests([event_id for event_id, _ in inbound]) == dict(inbound)
    finally:
        recorder.close()


def test_the_bulk_reads_give_every_byte_back_as_bytes(store: str) -> None:
    """The reads a rebuild, an audit and a cache miss use (PostgreSQL fetches them in binary): the same rows as
    eventsourcing's own read, states as `bytes`, a page from any start and of any length."""
    recorder = open_recorder(store)
    try:
        events = [
            StoredEvent(f"account-{index % 3}", index // 3 + 1, f"topic-{index % 2}", _state(index))
            for index in range(12)
        ]
        ids = recorder.insert_events(events, inbound=[(f"event-{index}", b"d" * 32) for index in range(12)])
        assert ids is not None

        page = recorder.select_notification_rows(ids[2], 5)

        assert page == [(ids[index], e.originator_id, e.topic, e.state) for index, e in enumerate(events)][2:7]
        assert all(type(state) is bytes for *_, state in page)
        streams = recorder.select_streams(["account-1", "account-9"])
        assert streams == {"account-1": [e.state for e in events if e.originator_id == "account-1"]}
        assert all(type(state) is bytes for state in streams["account-1"])
    finally:
        recorder.close()
