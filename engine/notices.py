"""The notices an account was sent, as its recorded decisions say: what a gateway's outcome may report on.

Contract 1.1 refuses a `NoticeOutcomeReported` unless its `command_id` names a
`SendNotice` emitted to the account, and the policy re-sends a failed notice
once per `command_id`. Both need the account's notices, which are decisions,
not facts: the book is kept from the decisions as they are taken
(`CreditAccount.handle`), loaded (`CreditAccount.replay`) and re-derived
(audit replay), so all three see the same book.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.ledger import Rejected
from events.inbound import NoticeOutcomeReported

SEND_NOTICE = "SendNotice"


@dataclass(frozen=True, slots=True)
class Notice:
    rule: str  # the rule that first decided it (a re-send keeps its original's, e.g. notice.overdue)
    template: str
    channel: str


@dataclass(slots=True)
class NoticeBook:
    sent: dict[str, Notice] = field(default_factory=dict)  # command_id -> the notice
    resent: set[str] = field(default_factory=set)  # command ids whose failure was answered (re-sent or dropped)

    def note(self, rule: str, facts: dict[str, Any], command: dict[str, Any] | None) -> None:
        """Take one decision into the book (any decision: most leave it as it is)."""
        original = facts.get("resend_of")
        if isinstance(original, str):
            self.resent.add(original)
        if command is None or command.get("type") != SEND_NOTICE:
            return
        first = self.sent.get(original) if isinstance(original, str) else None
        self.sent[command["command_id"]] = Notice(
            first.rule if first else rule, str(command["template"]), str(command["channel"])
        )

    def check(self, fact: NoticeOutcomeReported) -> Notice:
        """The notice an outcome reports on; Rejected unless this account was sent it."""
        notice = self.sent.get(fact.data.command_id)
        if notice is None:
            raise Rejected("data.command_id: names no SendNotice emitted to this account")
        return notice
