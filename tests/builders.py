"""Building contract events in tests, and running them through a pure account."""

from __future__ import annotations

import itertools
import json
from typing import Any

from engine.account import CreditAccount
from engine.policy import Policy, load_policy
from engine.rules import Decision
from events.inbound import ParsedEvent, parse_event

DEFAULT = load_policy()


class Events:
    """Contract events for one account, with fresh ids and +08:00 times."""

    def __init__(self, account_id: str = "A1") -> None:
        self.account_id = account_id
        self._ids = itertools.count(1)

    def make(self, kind: str, at: str, data: dict[str, Any], *, account: bool = True) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"{self.account_id}-{next(self._ids)}",
            "type": kind,
            "occurred_at": at if "+" in at[10:] or at.endswith("Z") else f"{at}+08:00",
            "schema_version": 1,
            "data": data,
        }
        if account:
            event["account_id"] = self.account_id
        return event

    def opened(self, at: str = "2026-08-01T10:00:00", limit: str = "10000.00", **data: Any) -> dict[str, Any]:
        return self.make("AccountOpened", at, {"customer_id": "c", "credit_limit": limit, "card_ref": "tok", **data})

    def bill(self, bill_id: str, amount: str, due: str, at: str = "2026-08-10T09:00:00") -> dict[str, Any]:
        return self.make("BillIssued", at, {"bill_id": bill_id, "amount": amount, "due_date": due})

    def pay(self, payment_id: str, amount: str, at: str, **target: str) -> dict[str, Any]:
        return self.make("RepaymentReceived", at, {"payment_id": payment_id, "amount": amount, **target})

    def reverse(self, payment_id: str, at: str) -> dict[str, Any]:
        return self.make("RepaymentReversed", at, {"payment_id": payment_id, "reason": "bounced"})

    def overdue(self, bill_id: str, days: int, outstanding: str, at: str) -> dict[str, Any]:
        return self.make("OverdueReported", at, {"bill_id": bill_id, "days_past_due": days, "outstanding": outstanding})

    def plan(self, plan_id: str, at: str, *installments: tuple[str, str]) -> dict[str, Any]:
        return self.make(
            "RepaymentPlanAgreed",
            at,
            {"plan_id": plan_id, "installments": [{"due_date": d, "amount": a} for d, a in installments]},
        )

    def request(self, request_id: str, at: str) -> dict[str, Any]:
        return self.make("UnlockRequested", at, {"request_id": request_id})

    def review(self, request_id: str, approved: bool, at: str) -> dict[str, Any]:
        return self.make("UnlockReviewed", at, {"request_id": request_id, "approved": approved, "reviewer": "op"})

    def day_closed(self, day: str) -> dict[str, Any]:
        return self.make("DayClosed", f"{day}T23:59:00", {"business_date": day}, account=False)


def parsed(event: dict[str, Any]) -> ParsedEvent:
    return parse_event(json.dumps(event))


def run(events: list[dict[str, Any]], policy: Policy = DEFAULT) -> tuple[CreditAccount, list[list[Decision]]]:
    """Apply events to one in-memory account (no store): its decisions per event."""
    account = CreditAccount(events[0]["account_id"])
    return account, [account.handle(parsed(e), policy) for e in events]


def commands(decisions: list[Decision]) -> list[tuple[str, str]]:
    """(command type, rule) of each decision that emitted a command."""
    return [(d.command["type"], d.rule) for d in decisions if d.command]
