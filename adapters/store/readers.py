"""What readers of the store read, without the engine: the notification log, the outbox, the engine's tables.

Each reader says what it reads; none exposes the recorder. Stored states are
decoded with `events.recorded` (the shape the engine documents), so the relay,
the projections and reconcile need nothing of the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent

from adapters.store.tables import ProjectionDatabase
from engine.application import EngineRecorder
from engine.batch import Position
from events.recorded import (
    FACT_TOPIC,
    FORGET_TOPIC,
    OutboxPage,
    State,
    decode,
    encode_forget,
    forget_stream,
    recorded_commands,
)
from projections.decoding import RawNotification

PAGE = 5000


class StoreRecorder(EngineRecorder, Protocol):
    """The event store's recorder as the readers here use it (both databases' recorders are one)."""

    def max_notification_id(self) -> int | None: ...
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...
    def select_notification_rows(self, start: int, limit: int) -> list[tuple[int, str, str, bytes]]: ...
    def select_openings(self) -> list[tuple[str, bytes]]: ...
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None: ...
    def close(self) -> None: ...


class StoredLog:
    """The notification log: every stored event in commit order (projections.ports.NotificationLog)."""

    def __init__(self, recorder: StoreRecorder) -> None:
        self.recorder = recorder

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def read(self, start: int, limit: int) -> list[RawNotification]:
        return [RawNotification(*row) for row in self.recorder.select_notification_rows(start, limit)]

    def read_topics(self, topics: Sequence[str], page: int = PAGE) -> Iterator[RawNotification]:
        """Every stored event of these topics, in commit order, a page at a time."""
        start = 1
        while True:
            notifications = self.recorder.select_notifications(start, page, topics=list(topics))
            for n in notifications:
                yield RawNotification(n.id, str(n.originator_id), n.topic, n.state)
            if len(notifications) < page:
                return
            start = notifications[-1].id + 1

    def pending(self, topics: Sequence[str], start: int) -> bool:
        """Whether a notification of these topics is stored at or after `start`."""
        return bool(self.recorder.select_notifications(start, 1, topics=list(topics)))

    def recorded_at(self, notification_id: int) -> datetime | None:
        """When the engine recorded this notification (its state's `at`), if it exists."""
        found = self.recorder.select_notifications(notification_id, 1)
        if not found or found[0].id != notification_id:
            return None
        return datetime.fromtimestamp(decode(found[0].state)["at"] / 1000, UTC)

    def close(self) -> None:
        self.recorder.close()


class StoredOutbox:
    """The recorded commands in emission order, and one reader's position in them (kept in the store)."""

    def __init__(self, recorder: StoreRecorder, reader: str) -> None:
        self.recorder = recorder
        self.reader = reader

    def position(self) -> int:
        """The next notification id to read, as the store recorded it."""
        return self.recorder.select_positions(self.reader).get(0, 1)

    def head(self) -> int:
        """The last notification id the store recorded (0 if none)."""
        return self.recorder.max_notification_id() or 0

    def page(self, start: int, limit: int) -> OutboxPage:
        notifications = self.recorder.select_notifications(start, limit, topics=[FACT_TOPIC])
        commands = []
        for notification in notifications:
            stream = str(notification.originator_id)
            commands += [(notification.id, c) for c in recorded_commands(stream, decode(notification.state))]
        after = notifications[-1].id + 1 if notifications else start
        return OutboxPage(commands, len(notifications), after)

    def advance(self, next_position: int) -> None:
        """Record that every command before `next_position` was delivered."""
        position: Position = (self.reader, 0)
        self.recorder.insert_events([], positions={position: next_position})

    def close(self) -> None:
        self.recorder.close()


class EngineTables:
    """The engine's own tables, read whole: the inbound index and the recorded source positions."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def inbound(self) -> Iterator[tuple[str, bytes]]:
        """(event_id, payload digest) of every recorded inbound event."""
        for event_id, digest in self.db.query("SELECT event_id, digest FROM fengkong_inbound"):
            yield str(event_id), bytes(digest)

    def positions(self) -> dict[tuple[str, int], int]:
        rows = self.db.query("SELECT source, partition, next_offset FROM fengkong_positions")
        return {(str(source), int(partition)): int(offset) for source, partition, offset in rows}


class PrivacyRecords:
    """What the store holds on customers, for forgetting and the right of access: openings, forgets."""

    def __init__(self, recorder: StoreRecorder) -> None:
        self.recorder = recorder

    def openings(self) -> Iterator[tuple[str, State]]:
        """Each account's first stored event (its AccountOpened), decoded."""
        for account_id, state in self.recorder.select_openings():
            yield account_id, decode(state)

    def opening(self, account_id: str) -> State | None:
        """One account's opening fact, decoded (None: no such account)."""
        states = self.recorder.select_streams([account_id]).get(account_id)
        return decode(states[0]) if states else None

    def record_forget(self, key_id: str, actor: str, actor_key: str, reason: str, accounts: list[str]) -> bool:
        """Record a forget (False: this key's forget was recorded already, by an earlier run that stopped midway)."""
        state = encode_forget(key_id, actor, actor_key, reason, accounts)
        try:
            self.recorder.insert_events([StoredEvent(forget_stream(key_id), 1, FORGET_TOPIC, state)])
        except IntegrityError:
            return False
        return True

    def forgets(self) -> Iterator[State]:
        for notification in StoredLog(self.recorder).read_topics([FORGET_TOPIC]):
            yield decode(notification.state)

    def close(self) -> None:
        self.recorder.close()
