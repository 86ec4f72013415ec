"""What readers of the store read, without the engine: the notification log, the outbox, the engine's tables.

Each reader says what it reads; none exposes the recorder. Stored states are
decoded with `events.recorded` (the shape the engine documents), so the relay,
the projections and reconcile need nothing of the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent

from adapters.store.engine_tables import BRAKE_COLUMNS, HOLD_COLUMNS
from adapters.store.tables import ProjectionDatabase
from engine.application import EngineRecorder
from engine.batch import Position
from engine.brake import BrakeState, from_micros, micros
from events.recorded import (
    CLOCK_ACTION_TOPIC,
    DAY_TOPIC,
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


@dataclass(frozen=True)
class HeldLock:
    """A lock the emergency brake holds for an operator (a row of `fengkong_holds`)."""

    hold_id: str  # the held LockCard's command id
    account_id: str
    rule: str
    cause_event_id: str
    cause_at: datetime  # the cause's event time (UTC)
    count: int  # the verdict: automatic locks already emitted in the window,
    active: int  # the active accounts,
    bound: int  # and the bound it was held against
    commands: list[dict[str, Any]]  # what a release emits, as decided

    def jsonable(self) -> dict[str, Any]:
        return {**asdict(self), "cause_at": self.cause_at.isoformat()}


@dataclass(frozen=True)
class HoldFilter:
    """Which held locks: by rule, by the cause's event time (after < time <= until), by account."""

    rule: str | None = None
    after: datetime | None = None
    until: datetime | None = None
    account_id: str | None = None


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

    def brake(self) -> BrakeState | None:
        """The emergency brake's record (None: a store the brake never saw)."""
        if not self.db.has_table("fengkong_brake"):
            return None
        rows = self.db.query(f"SELECT {BRAKE_COLUMNS} FROM fengkong_brake WHERE id = 1")
        if not rows:
            return None
        active, version, tripped_since, last_at, last_bound = (None if v is None else int(v) for v in rows[0])
        return BrakeState(active or 0, version or 0, tripped_since, last_at, last_bound)

    def emitted_count(self, after: int, until: int) -> int:
        """Automatic locks emitted whose causes have event time (µs) after < time <= until."""
        rows = self.db.query(
            "SELECT count(*) FROM fengkong_brake_locks WHERE cause_at > ? AND cause_at <= ?", [after, until]
        )
        return int(rows[0][0])

    def holds(self, which: HoldFilter = HoldFilter(), limit: int | None = None) -> list[HeldLock]:
        """Held locks, oldest cause first."""
        if not self.db.has_table("fengkong_holds"):
            return []
        where: list[str] = []
        params: list[Any] = []
        if which.rule is not None:
            where.append("rule = ?")
            params.append(which.rule)
        if which.after is not None:
            where.append("cause_at > ?")
            params.append(micros(which.after))
        if which.until is not None:
            where.append("cause_at <= ?")
            params.append(micros(which.until))
        if which.account_id is not None:
            where.append("account_id = ?")
            params.append(which.account_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        bounded = "" if limit is None else f" LIMIT {int(limit)}"
        rows = self.db.query(
            f"SELECT {HOLD_COLUMNS} FROM fengkong_holds{clause} ORDER BY cause_at, account_id{bounded}", params
        )
        return [
            HeldLock(
                hold_id=str(row[1]),
                account_id=str(row[0]),
                rule=str(row[2]),
                cause_event_id=str(row[3]),
                cause_at=from_micros(int(row[4])),
                count=int(row[5]),
                active=int(row[6]),
                bound=int(row[7]),
                commands=orjson.loads(row[8]),
            )
            for row in rows
        ]

    def hold(self, hold_id: str) -> HeldLock | None:
        if not self.db.has_table("fengkong_holds"):
            return None
        rows = self.db.query("SELECT account_id FROM fengkong_holds WHERE hold_id = ?", [hold_id])
        if not rows:
            return None
        found = self.holds(HoldFilter(account_id=str(rows[0][0])))
        return found[0] if found and found[0].hold_id == hold_id else None

    def held_count(self) -> int:
        if not self.db.has_table("fengkong_holds"):
            return 0
        return int(self.db.query("SELECT count(*) FROM fengkong_holds")[0][0])


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

    def facts_and_days(self) -> Iterator[RawNotification]:
        """Every account's recorded facts and the platform clock's dates, in commit order, a page at a time."""
        return StoredLog(self.recorder).read_topics([FACT_TOPIC, DAY_TOPIC, CLOCK_ACTION_TOPIC])

    def forgets(self) -> Iterator[State]:
        for notification in StoredLog(self.recorder).read_topics([FORGET_TOPIC]):
            yield decode(notification.state)

    def close(self) -> None:
        self.recorder.close()
