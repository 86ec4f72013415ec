"""Hypothesis state machine over random event sequences for one account.

Invariants after every step: the card is locked whenever an overdue report
says it must be; lock/unlock (and suspend/restore) alternate; every unlock
has an approved path; no command id twice; money is conserved. At the end,
replaying the recorded facts reproduces every decision byte for byte.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.account import CreditAccount
from engine.audit import replay
from engine.ledger import ZERO, Rejected
from events.recorded import State, decode
from tests.builders import DEFAULT, parsed

CST = timezone(timedelta(hours=8))
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)


class AccountMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = datetime(2026, 1, 5, 9, tzinfo=CST)
        self.account = CreditAccount("H1")
        self.stream: list[State] = []
        self.commands: list[dict[str, Any]] = []
        self.seq = 0
        self.last_report: tuple[int, Decimal] | None = None
        self.day = self.clock.date()

    # ------------------------------------------------------------ helpers

    def send(self, kind: str, data: dict[str, Any], hours: int = 0, account: bool = True) -> bool:
        self.clock += timedelta(hours=hours, minutes=7)
        self.seq += 1
        event: dict[str, Any] = {
            "event_id": f"h-{self.seq}",
            "type": kind,
            "occurred_at": self.clock.isoformat(),
            "schema_version": 1,
            "data": data,
        }
        if account:
            event["account_id"] = "H1"
        version, plan_before = self.account.version, self.ledger.active_plan_id
        try:
            decisions = self.account.handle(parsed(event), DEFAULT)
        except Rejected:
            assert self.account.version == version, "a rejected event changed the account"
            return False
        self.stream.extend(decode(state) for _, _, _, state in self.account.collect())
        for decision in decisions:
            if decision.command:
                self.commands.append(decision.command)
                self.check_unlock_has_a_path(decision.command, plan_before)
        self.last_report = None
        return True

    @property
    def ledger(self):  # type: ignore[no-untyped-def]
        return self.account.ledger

    def check_unlock_has_a_path(self, command: dict[str, Any], plan_before: str | None) -> None:
        if command["type"] != "UnlockCard":
            return
        rule = command["rule"]
        if rule == "unlock.full_repayment":
            assert self.ledger.overdue_outstanding == 0 and self.ledger.active_plan_id is None
        elif rule == "plan.complete":
            assert self.ledger.active_plan_id is None
        else:
            assert rule in {"review.approved", "review.auto_approve"}, rule
            assert plan_before is not None

    # ------------------------------------------------------------ rules

    @initialize(limit=st.sampled_from(["1000.00", "6000.00", "20000.00"]))
    def open_account(self, limit: str) -> None:
        assert self.send("AccountOpened", {"customer_id": "c", "credit_limit": limit, "card_ref": "t"})

    @rule(amount=amounts, due_in=st.integers(1, 40), hours=st.integers(0, 400))
    def issue_bill(self, amount: Decimal, due_in: int, hours: int) -> None:
        bill_id = f"b{self.seq}"
        self.send(
            "BillIssued",
            {
                "bill_id": bill_id,
                "amount": str(amount),
                "due_date": (self.clock + timedelta(hours=hours, days=due_in)).date().isoformat(),
            },
            hours,
        )

    @rule(
        amount=amounts,
        aim=st.sampled_from(["none", "bill", "plan", "unknown"]),
        pick=st.integers(0, 50),
        hours=st.integers(0, 200),
    )
    def pay(self, amount: Decimal, aim: str, pick: int, hours: int) -> None:
        data: dict[str, Any] = {"payment_id": f"p{self.seq}", "amount": str(amount)}
        bills = list(self.ledger.bills)
        if aim == "bill" and bills:
            data["bill_id"] = bills[pick % len(bills)]
        elif aim == "plan" and self.ledger.plans:
            data["plan_id"] = list(self.ledger.plans)[pick % len(self.ledger.plans)]
        elif aim == "unknown":
            data["bill_id"] = "no-such-bill"
        self.send("RepaymentReceived", data, hours)

    @precondition(lambda self: bool(self.ledger.payments))
    @rule(pick=st.integers(0, 50))
    def reverse(self, pick: int) -> None:
        payments = list(self.ledger.payments)
        self.send("RepaymentReversed", {"payment_id": payments[pick % len(payments)], "reason": "r"}, 1)

    @precondition(lambda self: bool(self.ledger.bills))
    @rule(
        pick=st.integers(0, 50),
        days=st.integers(1, 45),
        extra=st.sampled_from(["0", "0.5", "12.00"]),
        hours=st.integers(0, 30),
    )
    def report_overdue(self, pick: int, days: int, extra: str, hours: int) -> None:
        bills = list(self.ledger.bills.values())
        bill = bills[pick % len(bills)]
        outstanding = max(bill.balance, Decimal("0.01")) + Decimal(extra)
        if self.send(
            "OverdueReported", {"bill_id": bill.bill_id, "days_past_due": days, "outstanding": str(outstanding)}, hours
        ):
            self.last_report = (days, self.ledger.overdue_outstanding)

    @rule(sizes=st.lists(amounts, min_size=1, max_size=6), gap=st.integers(1, 45))
    def agree_plan(self, sizes: list[Decimal], gap: int) -> None:
        start = self.clock.date()
        self.send(
            "RepaymentPlanAgreed",
            {
                "plan_id": f"P{self.seq}",
                "installments": [
                    {"due_date": (start + timedelta(days=gap * (n + 1))).isoformat(), "amount": str(a)}
                    for n, a in enumerate(sizes)
                ],
            },
            2,
        )

    @rule(hours=st.integers(0, 48))
    def request_unlock(self, hours: int) -> None:
        self.send("UnlockRequested", {"request_id": f"R{self.seq}"}, hours)

    @rule(approved=st.booleans(), own=st.booleans())
    def review(self, approved: bool, own: bool) -> None:
        request_id = self.account.controls.review_id if own and self.account.controls.review_id else "other"
        self.send("UnlockReviewed", {"request_id": request_id, "approved": approved, "reviewer": "op"}, 3)

    @rule(days=st.integers(1, 6))
    def close_days(self, days: int) -> None:
        for _ in range(days):
            self.day += timedelta(days=1)
            self.clock = max(self.clock, datetime(self.day.year, self.day.month, self.day.day, 23, 59, tzinfo=CST))
            self.send("DayClosed", {"business_date": self.day.isoformat()}, 0, account=False)

    # ------------------------------------------------------------ invariants

    @invariant()
    def locked_when_overdue_report_says_so(self) -> None:
        if self.last_report is not None:
            days, overdue = self.last_report
            if days >= DEFAULT.lock.min_days_past_due and overdue >= DEFAULT.lock.min_overdue_outstanding:
                assert self.account.controls.card_locked

    @invariant()
    def locks_and_unlocks_alternate(self) -> None:
        for on, off in (("LockCard", "UnlockCard"), ("SuspendCreditLine", "RestoreCreditLine")):
            sequence = [c["type"] for c in self.commands if c["type"] in (on, off)]
            assert all(t == (on if i % 2 == 0 else off) for i, t in enumerate(sequence)), sequence
        assert self.account.controls.card_locked == (
            sum(c["type"] == "LockCard" for c in self.commands) > sum(c["type"] == "UnlockCard" for c in self.commands)
        )

    @invariant()
    def no_command_twice(self) -> None:
        ids = [c["command_id"] for c in self.commands]
        assert len(ids) == len(set(ids))

    @invariant()
    def money_is_conserved(self) -> None:
        received = sum((p.amount for p in self.ledger.payments.values() if not p.reversed), ZERO)
        placed = sum(
            (
                sum((a for _, a in p.allocations), ZERO) + p.credit
                for p in self.ledger.payments.values()
                if not p.reversed
            ),
            ZERO,
        )
        assert received == placed
        assert all(b.balance >= 0 for b in self.ledger.bills.values())
        assert self.ledger.credit >= 0

    @invariant()
    def limit_stays_within_original(self) -> None:
        assert ZERO < self.account.controls.credit_limit <= self.ledger.original_limit

    def teardown(self) -> None:
        result = replay("H1", self.stream, lambda version: DEFAULT)
        assert result.identical, result.differences()[:3]
        assert [d["command"] for d in result.derived if d["command"]] == self.commands


AccountMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("FENGKONG_EXAMPLES", "150")), stateful_step_count=40, deadline=None
)
TestAccountInvariants = AccountMachine.TestCase
