"""The naive baseline: what the obvious eventsourcing program does per event.

A plain `eventsourcing.application.Application` with the same CreditAccount
aggregate and the same policy: each inbound message is parsed and validated
by the same contract code, its account is loaded from the store (no cache),
the same `handle()` applies it and decides, and `app.save(account)` writes it
in a transaction of its own. It does the same domain work as the engine and
nothing of what the engine adds: no batching, no aggregate cache, no
deduplication index (a repeated event_id is not detected), no source offsets
in the transaction, and its agenda of review deadlines is kept in memory
instead of a table.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from engine.account import CreditAccount
from engine.clock import PlatformClock
from engine.ledger import Rejected
from engine.policy import Policy
from engine.rules import agenda_date
from events.inbound import DayClosed, InvalidEvent, ParsedEvent, parse_event


class NaiveApplication(Application[UUID]):
    name = "fengkong-naive"

    def __init__(self, policy: Policy, env: dict[str, str]) -> None:
        super().__init__(env)
        self.policy = policy
        self.agenda: dict[str, date] = {}

    def handle(self, message: bytes | str) -> tuple[str, int]:
        """Apply one message; returns its outcome and the number of commands emitted."""
        try:
            parsed = parse_event(message)
        except InvalidEvent:
            return "rejected", 0
        if isinstance(parsed.event, DayClosed):
            return self._close_day(parsed)
        account = self._load(parsed.event.account_id)
        if account is None:
            if parsed.event.type != "AccountOpened":
                return "rejected", 0
            account = CreditAccount(parsed.event.account_id)
        try:
            decisions = account.handle(parsed, self.policy)
        except Rejected:
            return "rejected", 0
        self.save(account)
        self._note_agenda(account)
        return "accepted", sum(1 for d in decisions if d.command)

    def _load(self, account_id: str) -> CreditAccount | None:
        try:
            return self.repository.get(CreditAccount.create_id(account_id))
        except AggregateNotFoundError:
            return None

    def _close_day(self, parsed: ParsedEvent) -> tuple[str, int]:
        assert isinstance(parsed.event, DayClosed)
        try:
            clock: Any = self.repository.get(PlatformClock.create_id())
        except AggregateNotFoundError:
            clock = PlatformClock()
        try:
            clock.close(parsed)
        except Rejected:
            return "rejected", 0
        self.save(clock)
        commands = 0
        today = parsed.event.data.business_date
        for account_id in sorted(a for a, due in self.agenda.items() if due <= today):
            account = self._load(account_id)
            if account is None:
                continue
            decisions = account.handle(parsed, self.policy)
            self.save(account)
            self._note_agenda(account)
            commands += sum(1 for d in decisions if d.command)
        return "accepted", commands

    def _note_agenda(self, account: CreditAccount) -> None:
        due = agenda_date(account.controls)
        if due is None:
            self.agenda.pop(account.account_id, None)
        else:
            self.agenda[account.account_id] = due
