"""The work of one batch: what became of each message, and what one transaction will save.

A `Batch` applies a batch's events to the accounts (loaded or cached by the
engine), collects the events to record, the dedup rows and the clock agenda
changes, and saves them all in one transaction (`save`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.account import CreditAccount, StoredRow
from engine.ledger import Rejected
from engine.rules import Decision, agenda_date
from events.commands import Command, command_from_json
from events.inbound import DayClosed, ParsedEvent

if TYPE_CHECKING:
    from engine.application import RiskEngine

log = logging.getLogger(__name__)

Position = tuple[str, int]  # (source, partition), e.g. a Kafka topic partition
CONTRACT, ENGINE = "contract", "engine"

# --- seams for stream adapters (Kafka workers): see docs/kafka.md -------------
DayScope = Callable[[str], bool]
"""account_id -> whether a DayClosed in this batch may reach that account.

A Kafka worker passes "the account hashes to my partition", so that each
worker brings a closed day only to the accounts whose events it owns."""


InboundRow = tuple[str, bytes]
"""(event_id, payload digest): the deduplication row of one recorded inbound event."""


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

    def add(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            self.rules.append(decision.rule)
            if decision.command:
                self.commands.append(command_from_json(decision.command))


class PoisonEvent(Exception):
    """Applying one event raised an unexpected error (a defect, not bad input)."""

    def __init__(self, index: int, event_id: str, error: Exception) -> None:
        super().__init__(f"{type(error).__name__} while applying event {event_id}")
        self.index = index
        self.event_id = event_id
        self.reason = f"internal error while applying the event ({type(error).__name__}); see engine log"


class Batch:
    """The work of one transaction: touched aggregates, their new events, index rows."""

    def __init__(self, engine: RiskEngine, day_scope: DayScope | None = None, absent: set[str] | None = None) -> None:
        self.engine = engine
        self.day_scope = day_scope
        self.absent = absent or set()  # accounts known not to be in the store at the batch's start
        self.results: list[Result] = []
        self.rows: list[StoredRow] = []
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
            decisions = account.handle(item, self.engine.policy)
        except Rejected as rejected:
            self.results.append(Result(index, event.event_id, Outcome.REJECTED, rejected.reason))
            return
        except Exception as error:
            log.exception("defect while applying event %s of type %s", event.event_id, event.type)
            raise PoisonEvent(index, event.event_id, error) from error
        self.touched[account.account_id] = account
        self.rows.extend(account.collect())
        self.inbound.append((event.event_id, item.digest))
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
        self.rows.extend(clock.collect())
        self.inbound.append((item.event.event_id, item.digest))
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
            self.rows.extend(account.collect())
            decisions.extend(found)
        return decisions

    def save(self, positions: Mapping[Position, int]) -> None:
        # Only the accounts whose agenda date changed: most touched accounts have none before and after.
        agenda = [
            (account_id, after)
            for account_id, account in self.touched.items()
            if (after := agenda_date(account.controls)) != self.agenda_before.get(account_id)
        ]
        try:
            self.engine.record(self.rows, inbound=self.inbound, agenda=agenda, positions=dict(positions))
        except Exception:
            self.engine.forget_cached()  # cached aggregates hold this batch's unsaved changes
            raise
        for account in self.new_accounts.values():
            self.engine.remember(account)
