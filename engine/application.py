"""The engine's application service: inbound messages in, decisions recorded.

A batch of messages is validated, deduplicated by `event_id`, applied to the
accounts and saved in one transaction together with the inbound index (for
deduplication), the clock agenda and any source positions (Kafka offsets).
If another writer got there first the transaction fails as a whole and the
batch is retried against the new state.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, cast

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, StoredEvent

from engine.account import CreditAccount, StoredRow
from engine.batch import Batch, BrakeWrite, DayScope, PoisonEvent, Position, Result
from engine.brake import BrakeState
from engine.business_days import HolidayCalendar
from engine.clock import PlatformClock
from engine.collector import cyclic_gc_paused
from engine.documents import DocumentBook
from engine.governance import DOCUMENT_STREAM_IDS, InForce, Requested
from engine.personal import PersonalData
from engine.policy import Policy
from events.commands import Command, command_from_json
from events.inbound import InvalidEvent, ParsedEvent, parse_or_refusal
from events.recorded import CLOCK_STREAM, FACT_TOPIC, State, decode, recorded_commands

log = logging.getLogger(__name__)

_HISTORY_CHUNK = 500  # accounts per query when reading recorded histories
DEFAULT_BATCH = 2000  # events per transaction: fewer commits (fsyncs) and index lookups per event
ATTEMPTS = 5  # preparations of a batch that another writer keeps beating
APPLICATION_NAME = "fengkong"
DOCUMENTS_REFRESH_S = 5.0  # how often a running engine re-reads the active policy and calendar (an approval, a load)


StreamRows = dict[str, list[bytes]]
"""stream id -> the states of its stored events, in version order."""


class EngineRecorder(Protocol):
    """What the engine needs of its store beyond eventsourcing's recorder."""

    def select_digests(self, event_ids: Sequence[str]) -> dict[str, bytes]: ...
    def select_streams(self, stream_ids: Sequence[str]) -> StreamRows: ...
    def select_due_accounts(self, business_date: date) -> list[str]: ...
    def select_account_ids(self) -> list[str]: ...
    def select_positions(self, source: str) -> dict[int, int]: ...
    def brake_state(self) -> BrakeState: ...
    def emitted_between(self, after: int, until: int) -> list[int]: ...


class BrakeSettlement(Protocol):
    """A batch the store settles inside its transaction, the brake's record locked (engine.batch.Batch.settle)."""

    def settle(self, source: Any) -> BrakeWrite: ...


class InFlight(Protocol):
    """A batch committing while the next one is prepared (engine.overlap)."""

    @property
    def inbound(self) -> Mapping[str, bytes]:
        """Its dedup rows: event_id -> digest."""

    @property
    def accounts(self) -> Mapping[str, CreditAccount]:
        """The accounts it touched or opened, as it leaves them."""

    def wait(self) -> None:
        """Return once it has landed; engine.overlap.CommitFailed if it did not."""


class StoreConflict(RuntimeError):
    """Another writer kept winning; the batch was not applied."""


class BatchConflict(RuntimeError):
    """Another writer saved first (an account's version or an event_id): prepare the batch again."""


@dataclass(frozen=True)
class PreparedBatch:
    """A decided batch not saved yet: a stream adapter sends its dead letters, then commits it."""

    results: list[Result]
    batch: Batch
    positions: dict[Position, int]


class RiskEngine(Application[str]):
    name = APPLICATION_NAME

    def __init__(
        self,
        policy: Requested | None,
        personal: PersonalData,
        env: Mapping[str, str] | None = None,
        cache_size: int = 20_000,
        user: str = "ingest",
    ):
        """`policy`: the policy an entry point was told to decide with (None: the store's active one)."""
        super().__init__(dict(env or {}))
        self.in_force = InForce(policy, user)
        self._in_force_read: float | None = None  # monotonic time the documents were read; None: read them first
        self.personal = personal
        self.cache_size = cache_size
        self._accounts: OrderedDict[str, CreditAccount] = OrderedDict()
        self._clock: PlatformClock | None = None
        self.in_flight: InFlight | None = None  # set by engine.overlap while a batch commits on its thread

    @property
    def store(self) -> EngineRecorder:
        return cast(EngineRecorder, self.recorder)

    # ------------------------------------------------------------ the documents in force

    def documents(self) -> InForce:
        """The recorded policies and calendars, read from the store if not read yet."""
        if self._in_force_read is None:
            self.refresh_documents()
        return self.in_force

    def check_policy(self) -> Policy:
        """The policy new facts are decided under; engine.documents.Refused if the requested one may not decide."""
        documents = self.documents()
        if documents.refused is not None:
            raise documents.refused
        assert documents.policy is not None
        return documents.policy

    def refresh_documents(self) -> None:
        """Read the active policy and calendar again (an approval or a calendar load may have changed them)."""
        self.wait_for_commit()  # the batch committing reads them, and may record their first use
        before = self.in_force.policy.version if self.in_force.policy else None
        self.in_force.load(self.store.select_streams(DOCUMENT_STREAM_IDS))
        self._in_force_read = time.monotonic()
        after = self.in_force.policy.version if self.in_force.policy else None
        if before is not None and after != before:
            log.warning("the active policy changed from %s to %s: new facts are decided under %s", before, after, after)

    def document_book(self, kind: str) -> DocumentBook:
        """One kind's recorded documents (events.documents) as the store holds them now, for a governance step."""
        book = DocumentBook(kind)
        for state in self.store.select_streams([book.stream]).get(book.stream, ()):
            book.replay(state)
        return book

    def save_documents(self, book: DocumentBook) -> None:
        """Save a book's new steps alone; BatchConflict if another writer appended to its stream first."""
        rows = book.collect()
        try:
            self.recorder.insert_events([StoredEvent(*row) for row in rows])
        except IntegrityError as error:
            raise BatchConflict(str(error)) from error
        finally:
            self._in_force_read = None

    @property
    def policy(self) -> Policy:
        """The policy new facts are decided under."""
        return self.check_policy()

    @property
    def calendar(self) -> HolidayCalendar:
        """The holiday calendar new decisions count business days on."""
        self.check_policy()
        calendar = self.in_force.calendar
        assert calendar is not None
        return calendar

    # ------------------------------------------------------------ ingestion

    def process(
        self,
        messages: Sequence[bytes | str],
        positions: Mapping[Position, int] | None = None,
        *,
        day_scope: DayScope | None = None,
    ) -> list[Result]:
        """Apply one batch atomically; `positions` (next offsets) are saved with it."""
        with cyclic_gc_paused():
            return self.process_parsed(parse_all(messages), positions, day_scope=day_scope)

    def process_parsed(
        self,
        items: Sequence[ParsedEvent | InvalidEvent],
        positions: Mapping[Position, int] | None = None,
        *,
        day_scope: DayScope | None = None,
    ) -> list[Result]:
        """Prepare and commit one batch of parsed messages, preparing again if another writer got there first."""
        for attempt in range(1, ATTEMPTS + 1):
            prepared = self.prepare(items, positions, day_scope=day_scope)
            try:
                self.commit(prepared)
            except BatchConflict as conflict:
                log.warning("batch conflicted with another writer (attempt %d): %s", attempt, conflict)
                continue
            return prepared.results
        raise StoreConflict(f"batch still conflicted after {ATTEMPTS} attempts")

    def prepare(
        self,
        items: Sequence[ParsedEvent | InvalidEvent],
        positions: Mapping[Position, int] | None = None,
        *,
        day_scope: DayScope | None = None,
    ) -> PreparedBatch:
        """Decide a batch without saving it: its results, and the events to commit.

        A defect raised while applying one event (not bad input: a bug) rejects
        that event alone; the batch is prepared again without it, so the rest
        of the stream goes on. The cyclic garbage collector waits for the end
        of the batch (engine.collector).
        """
        poisoned: dict[int, str] = {}
        read = self._in_force_read
        if read is None or time.monotonic() - read > DOCUMENTS_REFRESH_S:
            self.refresh_documents()
        self.check_policy()
        with cyclic_gc_paused():
            while True:
                try:
                    batch = self._prepare(items, poisoned, day_scope)
                except PoisonEvent as poison:
                    self.wait_for_commit()  # the batch committing stands on the cache: only once it has landed
                    self.forget_cached()  # the aggregates it touched hold half-applied changes
                    poisoned[poison.index] = poison.reason
                    continue
                _log_warnings(batch.results)
                return PreparedBatch(batch.results, batch, dict(positions or {}))

    def commit(self, prepared: PreparedBatch) -> None:
        """Save a prepared batch in one transaction; BatchConflict if another writer got there first."""
        with cyclic_gc_paused():
            try:
                prepared.batch.save(prepared.positions)
            except IntegrityError as error:
                self._in_force_read = None  # another writer may have recorded a document first
                raise BatchConflict(str(error)) from error

    def ingest(self, messages: Iterable[bytes | str], batch_size: int = DEFAULT_BATCH) -> Iterator[Result]:
        """Process a stream of messages in batches; results keep their stream index."""
        batch: list[bytes | str] = []
        offset = 0
        for message in messages:
            batch.append(message)
            if len(batch) >= batch_size:
                yield from _reindexed(self.process(batch), offset)
                offset += len(batch)
                batch = []
        if batch:
            yield from _reindexed(self.process(batch), offset)

    def _prepare(
        self,
        items: Sequence[ParsedEvent | InvalidEvent],
        poisoned: Mapping[int, str],
        day_scope: DayScope | None,
    ) -> Batch:
        batch = Batch(self, items, poisoned, day_scope)
        batch.run()
        return batch

    def known_digests(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        """The digests recorded under these event ids, those of the batch still committing included."""
        found = self.store.select_digests(event_ids)
        flight = self.in_flight
        if flight is not None:
            for event_id in event_ids:
                digest = flight.inbound.get(event_id)
                if digest is not None:
                    found.setdefault(event_id, digest)
        return found

    def wait_for_commit(self) -> None:
        """Before a read that the batch committing would change (engine.overlap): wait until it has landed."""
        if self.in_flight is not None:
            self.in_flight.wait()

    def record(self, rows: Sequence[StoredRow], brake: BrakeSettlement | None = None, **index_rows: Any) -> None:
        """Save stored events in the order they happened, with the index rows, in one transaction.

        The order is kept across accounts, so the notification log (and with it
        the command outbox) follows the input order. States were encoded once,
        by the aggregates (events.recorded); nothing is encoded again here. With
        `brake`, the store settles the batch inside the transaction (engine.batch)
        and saves what that gives instead of `rows` and the index rows. The first
        batch that records facts records the policy and calendar they were decided
        with too, if the store had not recorded them yet.
        """
        first_use = [StoredEvent(*row) for row in self.in_force.first_use_rows()] if rows or brake else []
        if brake is not None:
            self.recorder.insert_events(first_use, brake=brake, positions=index_rows.get("positions"))
        else:
            stored = [StoredEvent(stream, version, topic, state) for stream, version, topic, state in rows]
            self.recorder.insert_events([*first_use, *stored], **index_rows)
        if first_use:
            self.in_force.recorded()

    # ------------------------------------------------------------ loading

    def preload(self, account_ids: Iterable[str]) -> set[str]:
        """Load the uncached accounts among `account_ids` with one query; return those not in the store.

        One query per batch instead of one per account, and a batch's new
        accounts (AccountOpened) need no lookup of their own.
        """
        absent = {account_id for account_id in account_ids if account_id not in self._accounts}
        if self.in_flight is not None:
            lent = self.in_flight.accounts
            for account_id in [account_id for account_id in absent if account_id in lent]:
                self.remember(lent[account_id])
                absent.discard(account_id)
        if not absent:
            return absent
        for account_id, states in self.store.select_streams(sorted(absent)).items():
            self.remember(CreditAccount.load(account_id, map(decode, states), self.scored))
            absent.discard(account_id)
        return absent

    def account(self, account_id: str) -> CreditAccount | None:
        cached = self._accounts.get(account_id)
        if cached is not None:
            self._accounts.move_to_end(account_id)
            return cached
        account = self.in_flight.accounts.get(account_id) if self.in_flight is not None else None
        if account is None:
            account = self.load_account(account_id)
        if account is not None:
            self.remember(account)
        return account

    def load_account(self, account_id: str) -> CreditAccount | None:
        """The account as the store holds it, read now (never from the cache)."""
        states = self.store.select_streams([account_id]).get(account_id)
        if not states:
            return None
        return CreditAccount.load(account_id, map(decode, states), self.scored)

    @property
    def scored(self) -> bool:
        """Whether accounts keep their facts as of any instant (the policy in force scores accounts)."""
        return self.policy.scoring is not None

    def new_account(self, account_id: str) -> CreditAccount:
        """An empty account; it keeps its facts as of any instant only if the policy scores accounts."""
        return CreditAccount(account_id, scored=self.scored)

    def clock(self) -> PlatformClock:
        if self._clock is None:
            self._clock = self.load_clock()
        return self._clock

    def load_clock(self) -> PlatformClock:
        """The platform clock as the store holds it, read now."""
        self.wait_for_commit()
        clock = PlatformClock()
        for state in self.store.select_streams([CLOCK_STREAM]).get(CLOCK_STREAM, ()):
            clock.replay(decode(state))
        return clock

    def remember(self, account: CreditAccount) -> None:
        self._accounts[account.account_id] = account
        if len(self._accounts) > self.cache_size:
            self._accounts.popitem(last=False)

    def close(self) -> None:
        """Close the store and what personal data's keys were read from."""
        self.personal.close()
        super().close()

    def forget_cached(self, account_ids: Iterable[str] | None = None) -> None:
        """Drop cached aggregates (all by default) so they are reloaded from the store."""
        if account_ids is None:
            self._accounts.clear()
            self._clock = None
            self._in_force_read = None
        else:
            for account_id in account_ids:
                self._accounts.pop(account_id, None)

    # ------------------------------------------------------------ reading

    def head(self) -> int:
        """The id of the last stored event (0: none yet)."""
        return self.recorder.max_notification_id() or 0

    def account_ids(self) -> list[str]:
        """Every account the store holds, in id order."""
        return self.store.select_account_ids()

    def positions(self, source: str) -> dict[int, int]:
        """The next offset per partition of `source`, as recorded with the events they produced."""
        return self.store.select_positions(source)

    def recorded_histories(self, account_ids: Iterable[str]) -> Iterator[tuple[str, list[State]]]:
        """Each named account's recorded facts (decoded states, events.recorded), in the order given.

        Streams are read a chunk of accounts per query. Raises LookupError for
        an account the store does not hold.
        """
        ids = list(account_ids)
        for start in range(0, len(ids), _HISTORY_CHUNK):
            chunk = ids[start : start + _HISTORY_CHUNK]
            streams = self.store.select_streams(chunk)
            for account_id in chunk:
                stored = streams.get(account_id)
                if not stored:
                    raise LookupError(f"no account {account_id!r} in the store")
                yield account_id, [decode(state) for state in stored]

    def commands(self, account_id: str | None = None, page: int = 1000) -> Iterator[Command]:
        """Emitted commands in emission order (the store's notification order)."""
        if account_id is not None:
            for state in self.store.select_streams([account_id]).get(account_id, ()):
                for command in recorded_commands(account_id, decode(state)):
                    yield command_from_json(command)
            return
        start = 1
        while True:
            notifications = self.recorder.select_notifications(start, page, topics=[FACT_TOPIC])
            for notification in notifications:
                stream = str(notification.originator_id)
                for command in recorded_commands(stream, decode(notification.state)):
                    yield command_from_json(command)
            if len(notifications) < page:
                return
            start = notifications[-1].id + 1


def parse_all(messages: Iterable[bytes | str]) -> list[ParsedEvent | InvalidEvent]:
    """Each message parsed against the contract, or the reason it breaks it."""
    return [parse_or_refusal(message) for message in messages]


def _log_warnings(results: Sequence[Result]) -> None:
    """One log line per batch for the decisions an operator must hear about (each result keeps its own)."""
    warned = [(result.event_id, warning) for result in results for warning in result.warnings]
    if warned:
        event_id, first = warned[0]
        more = f" (and {len(warned) - 1} more decisions of this batch)" if len(warned) > 1 else ""
        log.warning("event %s: %s%s", event_id, first, more)


def _reindexed(results: Iterable[Result], offset: int) -> Iterator[Result]:
    for result in results:
        result.index += offset
        yield result
