"""The naive baseline: what the obvious event-sourced program does per event.

The same contract code, the same CreditAccount aggregate and the same policy:
each inbound message is parsed and validated, its account is loaded from the
store (no cache), the same `handle()` applies it and decides, and its stored
event is written in a transaction of its own. It does the same domain work as
the engine and nothing of what the engine adds: no batching, no aggregate
cache, no deduplication index (a repeated event_id is not detected), no source
offsets in the transaction, and its agenda of review deadlines is kept in
memory instead of a table.
"""

from __future__ import annotations

from datetime import date

from engine.account import CreditAccount
from engine.application import RiskEngine
from engine.clock import PlatformClock
from engine.ledger import Rejected
from engine.rules import agenda_date
from events.inbound import DayClosed, InvalidEvent, ParsedEvent, parse_event
from events.operator import ClockCorrected


class Naive:
    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self.agenda: dict[str, date] = {}

    def handle(self, message: bytes | str) -> tuple[str, int]:
        """Apply one message; returns its outcome and the number of commands emitted."""
        try:
            parsed = parse_event(message)
        except InvalidEvent:
            return "rejected", 0
        if isinstance(parsed.event, DayClosed):
            return self._close_day(parsed)
        if isinstance(parsed.event, ClockCorrected):  # an operator's action: never in a billing stream
            return "rejected", 0
        account = self.engine.load_account(parsed.event.account_id)
        if account is None:
            if parsed.event.type != "AccountOpened":
                return "rejected", 0
            account = CreditAccount(parsed.event.account_id)
        try:
            decisions = account.handle(parsed, self.engine.policy)
        except Rejected:
            return "rejected", 0
        self.engine.record(account.collect())
        self._note_agenda(account)
        return "accepted", sum(1 for d in decisions if d.command)

    def _close_day(self, parsed: ParsedEvent) -> tuple[str, int]:
        assert isinstance(parsed.event, DayClosed)
        clock: PlatformClock = self.engine.load_clock()
        try:
            clock.close(parsed)
        except Rejected:
            return "rejected", 0
        self.engine.record(clock.collect())
        commands = 0
        today = parsed.event.data.business_date
        for account_id in sorted(a for a, due in self.agenda.items() if due <= today):
            account = self.engine.load_account(account_id)
            if account is None:
                continue
            decisions = account.handle(parsed, self.engine.policy)
            self.engine.record(account.collect())
            self._note_agenda(account)
            commands += sum(1 for d in decisions if d.command)
        return "accepted", commands

    def _note_agenda(self, account: CreditAccount) -> None:
        due = agenda_date(account.controls)
        if due is None:
            self.agenda.pop(account.account_id, None)
        else:
            self.agenda[account.account_id] = due
