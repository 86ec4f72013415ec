"""The work of one batch: what became of each message, and what one transaction will save.

A `Batch` applies a batch's events to the accounts (loaded or cached by the
engine), collects the events to record, the dedup rows and the clock agenda
changes, and saves them all in one transaction (`save`).

A batch that judged automatic locks (the emergency brake, engine.brake), or
that changes what the brake counts (accounts opened or closed, locks held,
released or dropped), is saved through `settle`: the store calls it inside
the transaction, after locking the brake's record, and it judges the locks
again against the record as it is then. Same verdicts (the usual case): the
counts are brought up to date and saved. A verdict that another worker's
commit changed: the batch is prepared again right there, under the lock,
so it cannot change twice; no batch is ever saved on a stale count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from engine.account import CreditAccount, StoredRow
from engine.brake import EMITTED, HELD, BrakeSource, BrakeState, Candidate, Judge, micros
from engine.business_days import FALLBACK
from engine.controls import Controls
from engine.ledger import Rejected
from engine.personal import Owner
from engine.rules import Decision, agenda_date
from events.commands import Command, command_from_json
from events.inbound import AccountClosed, AccountOpened, DayClosed, InvalidEvent, ParsedEvent, load_object
from events.operator import ClockCorrected, Fact
from events.personal import arrived_forgotten, has_personal
from events.recorded import BRAKE_STREAM, BRAKE_TOPIC, State, decode, encode_brake

if TYPE_CHECKING:
    from engine.application import RiskEngine

log = logging.getLogger(__name__)
T = TypeVar("T")

Position = tuple[str, int]  # (source, partition), e.g. a Kafka topic partition
CONTRACT, ENGINE = "contract", "engine"

# --- seams for stream adapters (Kafka workers): see docs/kafka.md -------------
DayScope = Callable[[str], bool]
"""account_id -> whether a DayClosed in this batch may reach that account.

A Kafka worker passes "the account hashes to my partition", so that each
worker brings a closed day only to the accounts whose events it owns."""


InboundRow = tuple[str, bytes]
"""(event_id, payload digest): the deduplication row of one recorded inbound event."""
HoldRow = tuple[str, "dict[str, Any] | None"]
"""(account_id, the held lock's control value, or None once it is released or dropped)."""


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
    stage: str = ENGINE  # a rejection's stage: CONTRACT (the message breaks it) or ENGINE (the account refused it)
    held: int = 0  # automatic locks the emergency brake held
    warnings: list[str] = field(default_factory=list)  # what an operator must hear about a decision (logged too)
    sealed: str | None = None  # a refused event's canonical JSON with its personal fields sealed, if it has any

    def add(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            self.rules.append(decision.rule)
            if decision.command:
                self.commands.append(command_from_json(decision.command))
            elif decision.brake is not None and decision.brake["verdict"] == HELD:
                self.held += 1
            citation = decision.facts.get("calendar")
            if isinstance(citation, str) and citation.endswith(FALLBACK):
                warning = (
                    f"{decision.rule} counted business days on weekdays only: calendar "
                    f"{citation.removesuffix(FALLBACK)} has no schedule for a year it needed (fengkong calendar load)"
                )
                self.warnings.append(warning)


class _StoreReadFailed(Exception):
    """A read of the store failed while an event was applied: the store's trouble, never the event's.

    `apply` raises the store's own error again, so the caller treats it as it treats a failed save
    (the worker waits and retries the batch); only errors of the event's own handling are defects.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _read_or_raise(read: Callable[..., T], *args: Any) -> T:
    """Call a store read made while applying an event; its failure becomes a _StoreReadFailed."""
    try:
        return read(*args)
    except Exception as error:
        raise _StoreReadFailed(error) from error


class _GuardedSource:
    """A brake source whose reads, made while applying an event, fail as _StoreReadFailed."""

    def __init__(self, source: BrakeSource) -> None:
        self.source = source

    def brake_state(self) -> BrakeState:
        return _read_or_raise(self.source.brake_state)

    def emitted_between(self, after: int, until: int) -> list[int]:
        return _read_or_raise(self.source.emitted_between, after, until)


class VerdictsMoved(Exception):
    """The brake's count moved under a batch committed beside the next one's preparation (engine.overlap).

    Such a batch is not prepared again inside its transaction, on the committing thread, while
    the cache is in use by the next preparation: its commit fails and both go again in turn.
    """


class PoisonEvent(Exception):
    """Applying one event raised an unexpected error (a defect, not bad input)."""

    def __init__(self, index: int, event_id: str, error: Exception) -> None:
        super().__init__(f"{type(error).__name__} while applying event {event_id}")
        self.index = index
        self.event_id = event_id
        self.reason = f"internal error while applying the event ({type(error).__name__}); see engine log"


@dataclass
class BrakeWrite:
    """What a settled batch saves: its stored events and index rows, and the brake's record after it."""

    rows: list[StoredRow]
    inbound: list[InboundRow]
    agenda: list[tuple[str, date | None]]
    holds: list[HoldRow]
    state: BrakeState  # the brake's record after the batch
    emitted: list[tuple[int, str, str]]  # (cause time µs, account_id, cause event_id) of the locks it emitted


class Batch:
    """The work of one transaction: touched aggregates, their new events, index rows."""

    def __init__(
        self,
        engine: RiskEngine,
        items: Sequence[ParsedEvent | InvalidEvent],
        poisoned: Mapping[int, str],
        day_scope: DayScope | None = None,
    ) -> None:
        self.engine = engine
        self.items = items
        self.poisoned = poisoned
        self.day_scope = day_scope
        self.results: list[Result] = []
        # One policy and one calendar decide the whole batch: read once, not per event.
        self.policy = engine.policy
        self.calendar = engine.calendar
        self.judging = self.policy.brake.enabled
        self._reset(engine.store)

    def _reset(self, source: BrakeSource) -> None:
        self.absent: set[str] = set()  # accounts known not to be in the store at the batch's start
        self.rows: list[StoredRow] = []
        self.inbound: list[InboundRow] = []
        self.touched: dict[str, CreditAccount] = {}
        self.new_accounts: dict[str, CreditAccount] = {}
        # Each touched account's controls as stored (immutable: the same object means nothing changed, so
        # the agenda row and the held lock are compared only for the few accounts whose controls changed).
        self.controls_before: dict[str, Controls] = {}
        self.facts: dict[str, list[Fact]] = {}  # the facts this batch applied per account, for retractions
        self.source = source  # where the brake's verdicts are read while preparing
        self.judge: Judge | None = None
        self.candidates: list[Candidate] = []
        self.deferred: list[tuple[int, State]] = []  # rows whose brake verdicts are encoded when settled
        self.opened = self.closed = 0
        self.handed_off: list[tuple[str, Controls, Controls]] | None = None  # `_changed` as of `hand_off`

    # ------------------------------------------------------------ preparing

    def run(self) -> None:
        """Apply the batch's items in order (raises PoisonEvent on a defect)."""
        valid = [item for item in self.items if isinstance(item, ParsedEvent)]
        known = self.engine.known_digests([p.event.event_id for p in valid])
        self.absent = self.engine.preload(
            p.event.account_id for p in valid if not isinstance(p.event, (DayClosed, ClockCorrected))
        )
        owners = self.owners()
        self.engine.personal.prepare(owner for owner in owners.values() if owner is not None)
        for index, item in enumerate(self.items):
            if isinstance(item, InvalidEvent):
                self.results.append(Result(index, item.event_id, Outcome.REJECTED, item.reason, stage=CONTRACT))
                continue
            event = item.event
            if index in self.poisoned:
                self.results.append(Result(index, event.event_id, Outcome.REJECTED, self.poisoned[index]))
                continue
            sealed = self.seal(item, self.owner_at(owners, index, item))
            digest = known.get(event.event_id)
            if digest is not None:
                outcome, reason = (
                    (Outcome.DUPLICATE, None)
                    # A repeat of a forgotten customer's event cannot be compared on its personal fields;
                    # one recorded before sealing existed kept the digest of its plain form.
                    if digest in (sealed.digest, item.digest) or arrived_forgotten(sealed.event)
                    else (Outcome.REJECTED, "event_id: already recorded with a different payload")
                )
                result = Result(index, event.event_id, outcome, reason)
                self.results.append(result)
                if isinstance(event, DayClosed) and outcome is Outcome.DUPLICATE:
                    result.add(self.close_day_for_accounts(item))  # idempotent: ends a cut-off fan-out
            else:
                self.apply(index, sealed)
                if self.results[-1].outcome is Outcome.ACCEPTED:
                    known[event.event_id] = sealed.digest  # a later copy in this batch is a duplicate
            if sealed is not item and self.results[-1].outcome is Outcome.REJECTED:
                self.results[-1].sealed = sealed.canonical  # its dead letter keeps it sealed, never plain

    def _hold(self, account: CreditAccount) -> None:
        """Note the account's stored controls (its agenda date, its held lock) the first time this batch touches it."""
        self.controls_before.setdefault(account.account_id, account.controls)

    def _account(self, account_id: str) -> CreditAccount | None:
        """The account as this batch sees it: touched already, cached or in the store (None: not opened)."""
        account = self.touched.get(account_id)
        if account is None and account_id not in self.absent:
            account = self.engine.account(account_id)
        return account

    def owners(self) -> dict[int, Owner | None]:
        """Whose key seals each event of the batch that holds personal values, by index, found once (None: its
        account is not known yet)."""
        return {
            index: self.owner(item)
            for index, item in enumerate(self.items)
            if isinstance(item, ParsedEvent)
            and not isinstance(item.event, (DayClosed, ClockCorrected))
            and has_personal(item.event)
        }

    def owner_at(self, owners: Mapping[int, Owner | None], index: int, item: ParsedEvent) -> Owner | None:
        """Whose key seals the item: as found when the batch began, or now if its account opened earlier in it."""
        if index not in owners:
            return None  # it holds no personal values: nothing to seal
        found = owners[index]
        return found if found is not None else self.owner(item)

    def owner(self, item: ParsedEvent) -> Owner | None:
        """Whose key seals the personal fields of this account event (None: its account is unknown)."""
        event = item.event
        assert not isinstance(event, (DayClosed, ClockCorrected))
        if isinstance(event, AccountOpened):
            return Owner(customer_id=event.data.customer_id)
        account = self._account(event.account_id)
        customer = account.ledger.customer if account is not None else None
        return None if customer is None else Owner.of_customer(customer)

    def seal(self, item: ParsedEvent, owner: Owner | None) -> ParsedEvent:
        """The event with its personal fields sealed under `owner`'s key (what is decided and recorded); as it is
        without an owner (it holds none).

        An event of an unknown account stays as it came: it is refused, never recorded.
        """
        return item if owner is None else self.engine.personal.seal(item, owner)

    def apply(self, index: int, item: ParsedEvent) -> None:
        event = item.event
        if isinstance(event, DayClosed):
            self._close_day(index, item)
            return
        if isinstance(event, ClockCorrected):
            self._correct_clock(index, item)
            return
        account = self._account(event.account_id)
        if account is None and event.type == "AccountOpened":
            account = self.engine.new_account(event.account_id)
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
            decisions = self._handle(account, item)
        except Rejected as rejected:
            self.results.append(Result(index, event.event_id, Outcome.REJECTED, rejected.reason))
            return
        except _StoreReadFailed as failed:
            raise failed.error from failed.error.__cause__  # an outage, say: the batch fails whole, to be tried again
        except Exception as error:
            log.exception("defect while applying event %s of type %s", event.event_id, event.type)
            raise PoisonEvent(index, event.event_id, error) from error
        self.touched[account.account_id] = account
        self.inbound.append((event.event_id, item.digest))
        if isinstance(event, AccountOpened):
            self.opened += 1
        elif isinstance(event, AccountClosed):
            self.closed += 1
        result = Result(index, event.event_id, Outcome.ACCEPTED)
        result.add(decisions)
        self.results.append(result)

    def _handle(self, account: CreditAccount, item: ParsedEvent) -> list[Decision]:
        """The account handles the item; its row is collected (kept open if it holds the brake's verdicts)."""
        account_id = account.account_id
        verdicts = (lambda decision: self._verdict(account_id, item, decision)) if self.judging else None
        decisions = account.handle(item, self.policy, verdicts, self._history(account), self.calendar)
        rows = account.collect()
        self.rows.extend(rows)
        if rows and account.last_state is not None:
            self.deferred.append((len(self.rows) - 1, account.last_state))
            account.last_state = None
        self.facts.setdefault(account_id, []).append(item.event)
        return decisions

    def _verdict(self, account_id: str, item: ParsedEvent, decision: Decision) -> dict[str, Any]:
        """The brake's verdict on an automatic lock, against the snapshot the batch reads (see `settle`)."""
        if self.judge is None:
            self.judge = Judge(_GuardedSource(self.source))
        rule = self.policy.brake
        at = micros(item.event.occurred_at)
        record = self.judge.judge(at, rule)
        self.candidates.append(Candidate(account_id, item.event.event_id, at, rule, record))
        return record

    def _history(self, account: CreditAccount) -> Callable[[], list[Fact]]:
        """The account's facts so far: those the store holds, then those this batch applied."""

        def read() -> list[Fact]:
            _read_or_raise(self.engine.wait_for_commit)  # the batch committing may hold some of them
            streams = _read_or_raise(self.engine.store.select_streams, [account.account_id])
            stored = streams.get(account.account_id, [])
            return [load_object(decode(state)["fact"]) for state in stored] + self.facts.get(account.account_id, [])

        return read

    def _close_day(self, index: int, item: ParsedEvent) -> None:
        clock = self.engine.clock()
        try:
            clock.close(item)
        except Rejected as rejected:
            event_id = item.event.event_id
            if self.engine.known_digests([event_id]).get(event_id) == item.digest:
                # Another writer (a worker on another partition) recorded this very DayClosed after
                # the batch read its digests: it is a duplicate, whose fan-out must still run here.
                result = Result(index, event_id, Outcome.DUPLICATE)
                self.results.append(result)
                result.add(self.close_day_for_accounts(item))
                return
            self.results.append(Result(index, event_id, Outcome.REJECTED, rejected.reason))
            return
        self.rows.extend(clock.collect())
        self.inbound.append((item.event.event_id, item.digest))
        result = Result(index, item.event.event_id, Outcome.ACCEPTED)
        self.results.append(result)
        result.add(self.close_day_for_accounts(item))

    def _correct_clock(self, index: int, item: ParsedEvent) -> None:
        clock = self.engine.clock()
        try:
            clock.correct(item)
        except Rejected as rejected:
            self.results.append(Result(index, item.event.event_id, Outcome.REJECTED, rejected.reason))
            return
        self.rows.extend(clock.collect())
        self.inbound.append((item.event.event_id, item.digest))
        self.results.append(Result(index, item.event.event_id, Outcome.ACCEPTED))

    def close_day_for_accounts(self, item: ParsedEvent) -> list[Decision]:
        """Bring the closed business date to every account whose agenda falls due."""
        assert isinstance(item.event, DayClosed)
        # The agenda table holds the state before this batch: an account the batch touched
        # is due by its state now, or the outcome would depend on where batches are cut.
        self.engine.wait_for_commit()  # the batch committing may change the agenda
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
            found = self._handle(account, item)
            self.touched[account_id] = account
            decisions.extend(found)
        return decisions

    # ------------------------------------------------------------ saving

    def hand_off(self) -> None:
        """Ready the batch to commit on another thread while the next one goes on with the same accounts
        (engine.overlap): the controls it leaves (immutable) are fixed now, and its agenda and held locks
        are those; a verdict that moved under it fails its commit (`settle`) instead of preparing it again."""
        self.handed_off = self._changed()

    def _changed(self) -> list[tuple[str, Controls, Controls]]:
        """(account_id, controls before, controls now) of the touched accounts whose controls changed."""
        if self.handed_off is not None:
            return self.handed_off
        before = self.controls_before
        return [
            (account_id, before[account_id], account.controls)
            for account_id, account in self.touched.items()
            if account.controls is not before[account_id]
        ]

    def _agenda(self) -> list[tuple[str, date | None]]:
        # Only the accounts whose agenda date changed: most touched accounts have none before and after.
        return [
            (account_id, after)
            for account_id, before, now in self._changed()
            if (after := agenda_date(now)) != agenda_date(before)
        ]

    def _holds(self) -> list[HoldRow]:
        return [(account_id, now.held) for account_id, before, now in self._changed() if now.held is not before.held]

    def write(self, positions: Mapping[Position, int]) -> None:
        """Record the batch in one transaction and nothing else: the cache is the caller's (engine.overlap)."""
        brake = self if (self.candidates or self.opened or self.closed or self._holds()) else None
        self.engine.record(
            self.rows, inbound=self.inbound, agenda=self._agenda(), positions=dict(positions), brake=brake
        )

    def save(self, positions: Mapping[Position, int]) -> None:
        try:
            self.write(positions)
        except Exception:
            self.engine.forget_cached()  # cached aggregates hold this batch's unsaved changes
            raise
        for account in self.new_accounts.values():
            self.engine.remember(account)

    def settle(self, source: BrakeSource) -> BrakeWrite:
        """Inside the saving transaction, the brake's record locked: the verdicts as of now, and what to save."""
        state = source.brake_state()
        if self.candidates:
            judge = Judge(source, state)
            fresh = [judge.judge(c.at, c.rule) for c in self.candidates]
            if any(now["verdict"] != c.record["verdict"] for now, c in zip(fresh, self.candidates, strict=True)):
                if self.handed_off is not None:
                    raise VerdictsMoved("the brake's count moved under the batch")
                log.info("the brake's count moved under the batch: preparing it again under the brake's lock")
                self._redo(source)
            else:
                for now, candidate in zip(fresh, self.candidates, strict=True):
                    candidate.record.update(now)
        for row_index, deferred in self.deferred:
            stream, version, topic, _ = self.rows[row_index]
            self.rows[row_index] = (stream, version, topic, orjson.dumps(deferred))
        return self._brake_write(state)

    def _redo(self, source: BrakeSource) -> None:
        """Prepare the batch again, judging against `source` (the locked record): no verdict can move now.

        The cached aggregates (the clock's too) hold the first preparation's unsaved changes: all are dropped.
        """
        self.engine.forget_cached()
        while True:
            self.results.clear()
            self._reset(source)
            try:
                self.run()
                return
            except PoisonEvent as poison:
                self.engine.forget_cached()
                self.poisoned = {**self.poisoned, poison.index: poison.reason}

    def _brake_write(self, state: BrakeState) -> BrakeWrite:
        rows = list(self.rows)
        emitted = [(c.at, c.account_id, c.event_id) for c in self.candidates if c.record["verdict"] == EMITTED]
        version, tripped, last_at, last_bound = state.version, state.tripped_since, state.last_at, state.last_bound
        if self.candidates:
            version += 1
            for candidate in self.candidates:
                if candidate.record["verdict"] == EMITTED:
                    tripped = None
                elif tripped is None:
                    tripped = candidate.at
                last_at = candidate.at if last_at is None else max(last_at, candidate.at)
                last_bound = candidate.record["bound"]
            held = len(self.candidates) - len(emitted)
            rows.insert(0, (BRAKE_STREAM, version, BRAKE_TOPIC, encode_brake(state.active, len(self.candidates), held)))
        after = BrakeState(state.active + self.opened - self.closed, version, tripped, last_at, last_bound)
        return BrakeWrite(rows, list(self.inbound), self._agenda(), self._holds(), after, emitted)
