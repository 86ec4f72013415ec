"""The engine's application service: inbound messages in, decisions recorded.

A batch of messages is validated, deduplicated by `event_id`, applied to the
accounts and saved in one transaction together with the inbound index (for
deduplication), the clock agenda and any source positions (Kafka offsets).
If another writer got there first the transaction fails as a whole and the
batch is retried against the new state.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, StoredEvent

from engine.account import CreditAccount
from engine.clock import PlatformClock
from engine.collector import cyclic_gc_paused
from engine.ledger import Rejected
from engine.policy import Policy
from engine.rules import Decision, agenda_date
from events.commands import Command, command_from_json
from events.inbound import DayClosed, InvalidEvent, ParsedEvent, parse_event
from events.recorded import DECIDED_TOPIC

log = logging.getLogger(__name__)

Position = tuple[str, int]  # (source, partition), e.g. a Kafka topic partition
DEFAULT_BATCH = 2000  # events per transaction: fewer commits (fsyncs) and index lookups per event

# --- seams for stream adapters (Kafka workers): see docs/kafka.md -------------
DayScope = Callable[[str], bool]
"""account_id -> whether a DayClosed in this batch may reach that account.

A Kafka worker passes "the account hashes to my partition", so that each
worker brings a closed day only to the accounts whose events it owns."""

BeforeSave = Callable[[list["Result"]], None]
"""Called with a batch's results (indexed as the messages given) just before
its transaction; raising aborts the batch. Workers produce dead letters here,
so a crash can repeat a dead letter but never lose one."""


class EngineRecorder(Protocol):
    """What the engine needs of its store beyond eventsourcing's recorder."""

    def select_digests(self, event_ids: Sequence[str]) -> dict[str, str]: ...
    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...
    def select_due_accounts(self, business_date: date) -> list[str]: ...
    def select_account_ids(self) -> list[str]: ...
    def select_positions(self, source: str) -> dict[int, int]: ...


@dataclass(frozen=True)
class InboundRow:
    event_id: str
    digest: str
    account_id: str | None
    type: str


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass
class Result:
    """What became of one inbound message: its outcome, the rules that fired, the commands."""

    index: int
    event_id: str | None
    outcome: Outcome
    reason: str | None = None
    rules: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def add(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            self.rules.append(decision.rule)
            if decision.command:
                self.commands.append(command_from_json(decision.command))


class StoreConflict(RuntimeError):
    """Another writer kept winning; the batch was not applied."""


class _PoisonEvent(Exception):
    """Applying one event raised an unexpected error (a defect, not bad input)."""

    def __init__(self, index: int, event_id: str, error: Exception) -> None:
        super().__init__(f"{type(error).__name__} while applying event {event_id}")
        self.index = index
        self.event_id = event_id
        self.reason = f"internal error while applying the event ({type(error).__name__}); see engine log"


class RiskEngine(Application[UUID]):
    name = "fengkong"

    def __init__(self, policy: Policy, env: Mapping[str, str] | None = None, cache_size: int = 20_000):
        super().__init__(dict(env or {}))
        self.policy = policy
        self.cache_size = cache_size
        self._accounts: OrderedDict[str, CreditAccount] = OrderedDict()
        self._clock: PlatformClock | None = None

    @property
    def store(self) -> EngineRecorder:
        return cast(EngineRecorder, self.recorder)

    # ------------------------------------------------------------ ingestion

    def process(
        self,
        messages: Sequence[bytes | str],
        positions: Mapping[Position, int] | None = None,
        *,
        day_scope: DayScope | None = None,
        before_save: BeforeSave | None = None,
    ) -> list[Result]:
        """Apply one batch atomically; `positions` (next offsets) are saved with it.

        The cyclic garbage collector waits for the end of the batch (engine.collector).
        """
        with cyclic_gc_paused():
            parsed: list[ParsedEvent | InvalidEvent] = []
            for message in messages:
                try:
                    parsed.append(parse_event(message))
                except InvalidEvent as error:
                    parsed.append(error)
            return self._process_parsed(parsed, positions or {}, day_scope=day_scope, before_save=before_save)

    def _process_parsed(
        self,
        parsed: list[ParsedEvent | InvalidEvent],
        positions: Mapping[Position, int],
        attempts: int = 5,
        *,
        day_scope: DayScope | None = None,
        before_save: BeforeSave | None = None,
    ) -> list[Result]:
        for attempt in range(1, attempts + 1):
            try:
                return self._apply_batch(parsed, positions, day_scope, before_save)
            except IntegrityError as error:
                log.warning("batch conflicted with another writer (attempt %d): %s", attempt, error)
                self.forget_cached()
            except _PoisonEvent as poison:
                # A defect met one event: isolate it so the rest of the stream goes on.
                self.forget_cached()
                index = poison.index
                options: dict[str, Any] = {"day_scope": day_scope, "before_save": before_save}
                head = self._process_parsed(parsed[:index], {}, **options) if index else []
                failed = Result(index, poison.event_id, Outcome.REJECTED, poison.reason)
                if before_save is not None:
                    before_save([failed])
                    options["before_save"] = _shifted(before_save, index + 1)
                tail = self._process_parsed(parsed[index + 1 :], positions, **options)
                return [*head, failed, *self._reindex(tail, index + 1)]
        raise StoreConflict(f"batch still conflicted after {attempts} attempts")

    def ingest(self, messages: Iterable[bytes | str], batch_size: int = DEFAULT_BATCH) -> Iterator[Result]:
        """Process a stream of messages in batches; results keep their stream index."""
        batch: list[bytes | str] = []
        offset = 0
        for message in messages:
            batch.append(message)
            if len(batch) >= batch_size:
                yield from self._reindex(self.process(batch), offset)
                offset += len(batch)
                batch = []
        if batch:
            yield from self._reindex(self.process(batch), offset)

    @staticmethod
    def _reindex(results: Iterable[Result], offset: int) -> Iterator[Result]:
        for result in results:
            result.index += offset
            yield result

    def _apply_batch(
        self,
        parsed: list[ParsedEvent | InvalidEvent],
        positions: Mapping[Position, int],
        day_scope: DayScope | None = None,
        before_save: BeforeSave | None = None,
    ) -> list[Result]:
        known = self.store.select_digests([p.event.event_id for p in parsed if isinstance(p, ParsedEvent)])
        absent = self.preload(
            p.event.account_id for p in parsed if isinstance(p, ParsedEvent) and not isinstance(p.event, DayClosed)
        )
        batch = _Batch(self, day_scope, absent)
        for index, item in enumerate(parsed):
            if isinstance(item, InvalidEvent):
                batch.results.append(Result(index, item.event_id, Outcome.REJECTED, item.reason))
                continue
            event = item.event
            digest = known.get(event.event_id)
            if digest is not None:
                outcome, reason = (
                    (Outcome.DUPLICATE, None)
                    if digest == item.digest
                    else (Outcome.REJECTED, "event_id: already recorded with a different payload")
                )
                result = Result(index, event.event_id, outcome, reason)
                batch.results.append(result)
                if isinstance(event, DayClosed) and outcome is Outcome.DUPLICATE:
                    result.add(batch.close_day_for_accounts(item))  # idempotent: ends a cut-off fan-out
                continue
            batch.apply(index, item)
            if batch.results[-1].outcome is Outcome.ACCEPTED:
                known[event.event_id] = item.digest  # a later copy in this batch is a duplicate
        batch.save(positions, before_save)
        return batch.results

    def record(self, events: list[Any], **index_rows: Any) -> None:
        """Save events in the order they happened, with the index rows, in one transaction.

        Unlike Application.save() this keeps the order across aggregates, so the
        notification log (and with it the command outbox) follows the input order.
        It goes to the recorder directly: the engine keeps no eventsourcing
        cache and needs no Recording objects, which cost as much as encoding.
        """
        self.recorder.insert_events([self.mapper.to_stored_event(e) for e in events], **index_rows)

    # ------------------------------------------------------------ loading

    def preload(self, account_ids: Iterable[str]) -> set[str]:
        """Load the uncached accounts among `account_ids` with one query; return those not in the store.

        One query per batch instead of one per account, and a batch's new
        accounts (AccountOpened) need no lookup of their own.
        """
        absent = {account_id for account_id in account_ids if account_id not in self._accounts}
        if not absent:
            return absent
        ids = {CreditAccount.create_id(account_id): account_id for account_id in absent}
        for originator_id, stored in self.store.select_streams(list(ids)).items():
            aggregate: Any = None
            for domain_event in map(self.mapper.to_domain_event, stored):
                aggregate = cast(Any, domain_event).mutate(aggregate)
            self.remember(aggregate)
            absent.discard(ids[originator_id])
        return absent

    def account(self, account_id: str) -> CreditAccount | None:
        cached = self._accounts.get(account_id)
        if cached is not None:
            self._accounts.move_to_end(account_id)
            return cached
        try:
            account = cast(CreditAccount, self.repository.get(CreditAccount.create_id(account_id)))
        except AggregateNotFoundError:
            return None
        self.remember(account)
        return account

    def clock(self) -> PlatformClock:
        if self._clock is None:
            try:
                self._clock = cast(PlatformClock, self.repository.get(PlatformClock.create_id()))
            except AggregateNotFoundError:
                self._clock = PlatformClock()
        return self._clock

    def remember(self, account: CreditAccount) -> None:
        self._accounts[account.account_id] = account
        if len(self._accounts) > self.cache_size:
            self._accounts.popitem(last=False)

    def forget_cached(self, account_ids: Iterable[str] | None = None) -> None:
        """Drop cached aggregates (all by default) so they are reloaded from the store."""
        if account_ids is None:
            self._accounts.clear()
            self._clock = None
        else:
            for account_id in account_ids:
                self._accounts.pop(account_id, None)

    # ------------------------------------------------------------ reading

    def commands(self, account_id: str | None = None, page: int = 1000) -> Iterator[Command]:
        """Emitted commands in emission order (the store's notification order)."""
        if account_id is not None:
            account_uuid = CreditAccount.create_id(account_id)
            for domain_event in self.events.get(account_uuid):
                if isinstance(domain_event, CreditAccount.Decided) and domain_event.command:
                    yield command_from_json(domain_event.command)
            return
        start = 1
        while True:
            notifications = self.recorder.select_notifications(start, page, topics=[DECIDED_TOPIC])
            for notification in notifications:
                decided = cast(CreditAccount.Decided, self.mapper.to_domain_event(notification))
                if decided.command:
                    yield command_from_json(decided.command)
            if len(notifications) < page:
                return
            start = notifications[-1].id + 1


def _shifted(before_save: BeforeSave, offset: int) -> BeforeSave:
    """A hook for a tail of the batch: report its results at their index in the whole batch."""
    return lambda results: before_save([replace(result, index=result.index + offset) for result in results])


class _Batch:
    """The work of one transaction: touched aggregates, their new events, index rows."""

    def __init__(self, engine: RiskEngine, day_scope: DayScope | None = None, absent: set[str] | None = None) -> None:
        self.engine = engine
        self.day_scope = day_scope
        self.absent = absent or set()  # accounts known not to be in the store at the batch's start
        self.results: list[Result] = []
        self.events: list[Any] = []
        self.inbound: list[InboundRow] = []
        self.touched: dict[str, CreditAccount] = {}
        self.new_accounts: dict[str, CreditAccount] = {}
        self.agenda_before: dict[str, date | None] = {}  # each touched account's agenda row as stored

    def _hold(self, account: CreditAccount) -> None:
        """Note the account's stored agenda date the first time this batch touches it."""
        if account.account_id not in self.agenda_before:
            self.agenda_before[account.account_id] = agenda_date(account.controls)

    def apply(self, index: int, item: ParsedEvent) -> None:
        event = item.event
        if isinstance(event, DayClosed):
            self._close_day(index, item)
            return
        account = self.touched.get(event.account_id)
        if account is None and event.account_id not in self.absent:
            account = self.engine.account(event.account_id)
        if account is None and event.type == "AccountOpened":
            account = CreditAccount(event.account_id)
            self.new_accounts[event.account_id] = account
        if account is None:
            self.results.append(
                Result(
                    index, event.event_id, Outcome.REJECTED, "account_id: unknown account (no AccountOpened recorded)"
                )
            )
            return
        self._hold(account)
        try:
            decisions = account.handle(item, self.engine.policy)
        except Rejected as rejected:
            self.results.append(Result(index, event.event_id, Outcome.REJECTED, rejected.reason))
            return
        except Exception as error:
            log.exception("defect while applying event %s of type %s", event.event_id, event.type)
            raise _PoisonEvent(index, event.event_id, error) from error
        self.touched[account.account_id] = account
        self.events.extend(account.collect_events())
        self.inbound.append(InboundRow(event.event_id, item.digest, event.account_id, event.type))
        result = Result(index, event.event_id, Outcome.ACCEPTED)
        result.add(decisions)
        self.results.append(result)

    def _close_day(self, index: int, item: ParsedEvent) -> None:
        clock = self.engine.clock()
        try:
            clock.close(item)
        except Rejected as rejected:
            event_id = item.event.event_id
            if self.engine.store.select_digests([event_id]).get(event_id) == item.digest:
                # Another writer (a worker on another partition) recorded this very DayClosed after
                # the batch read its digests: it is a duplicate, whose fan-out must still run here.
                result = Result(index, event_id, Outcome.DUPLICATE)
                self.results.append(result)
                result.add(self.close_day_for_accounts(item))
                return
            self.results.append(Result(index, event_id, Outcome.REJECTED, rejected.reason))
            return
        self.events.extend(clock.collect_events())
        self.inbound.append(InboundRow(item.event.event_id, item.digest, None, item.event.type))
        result = Result(index, item.event.event_id, Outcome.ACCEPTED)
        self.results.append(result)
        result.add(self.close_day_for_accounts(item))

    def close_day_for_accounts(self, item: ParsedEvent) -> list[Decision]:
        """Bring the closed business date to every account whose agenda falls due."""
        assert isinstance(item.event, DayClosed)
        # The agenda table holds the state before this batch: an account the batch touched
        # is due by its state now, or the outcome would depend on where batches are cut.
        due = {a for a in self.engine.store.select_due_accounts(item.event.data.business_date) if a not in self.touched}
        due.update(
            account_id
            for account_id, account in self.touched.items()
            if (day := agenda_date(account.controls)) is not None and day <= item.event.data.business_date
        )
        if self.day_scope is not None:
            due = {account_id for account_id in due if self.day_scope(account_id)}
        decisions: list[Decision] = []
        self.engine.preload(account_id for account_id in due if account_id not in self.touched)
        for account_id in sorted(due):
            account = self.touched.get(account_id) or self.engine.account(account_id)
            if account is None:
                continue
            self._hold(account)
            found = account.handle(item, self.engine.policy)
            self.touched[account_id] = account
            self.events.extend(account.collect_events())
            decisions.extend(found)
        return decisions

    def save(self, positions: Mapping[Position, int], before_save: BeforeSave | None = None) -> None:
        # Only the accounts whose agenda date changed: most touched accounts have none before and after.
        agenda = [
            (account_id, after)
            for account_id, account in self.touched.items()
            if (after := agenda_date(account.controls)) != self.agenda_before.get(account_id)
        ]
        try:
            if before_save is not None:
                before_save(self.results)
            self.engine.record(self.events, inbound=self.inbound, agenda=agenda, positions=dict(positions))
        except Exception:
            self.engine.forget_cached()  # cached aggregates hold this batch's unsaved changes
            raise
        for account in self.new_accounts.values():
            self.engine.remember(account)
