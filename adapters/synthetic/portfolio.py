"""A seeded synthetic portfolio: contract events a billing system would publish.

Accounts follow one of four behaviours (good payers, occasional late payers,
strugglers who often take a repayment plan, defaulters). Billing issues a
bill every 30 days due 20 days later, runs its delinquency batch at 02:30
(so notices fall into quiet hours) and closes each business day at 23:59.
Everything derives from the seed: the same arguments give the same bytes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

CST = timezone(timedelta(hours=8))
CENT = Decimal("0.01")
PROFILES = (("good", 0.78), ("late", 0.12), ("struggling", 0.07), ("defaulter", 0.03))


@dataclass
class _Bill:
    bill_id: str
    amount: Decimal
    due: date
    balance: Decimal
    reported: bool = False


@dataclass
class _Account:
    account_id: str
    profile: str
    limit: Decimal
    seq: int = 0
    bills: dict[str, _Bill] = field(default_factory=dict)
    plan_id: str | None = None
    plans: int = 0
    plan_at: int = 0
    defaulted: bool = False
    requests: int = 0
    bills_issued: int = 0

    def next_id(self, kind: str) -> str:
        self.seq += 1
        return f"{self.account_id}-{kind}{self.seq}"


class Portfolio:
    """Simulates billing for `accounts` accounts over `days` days from `start`."""

    reported_until = 36_500  # billing reports an unpaid bill daily up to this many days past due

    def __init__(self, accounts: int, days: int, seed: int, start: date = date(2026, 3, 2), noise: bool = False):
        self.rng = random.Random(seed)
        self.days = days
        self.start = start
        self.noise = noise
        self.accounts: list[_Account] = []
        self.actions: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        self.watch: dict[tuple[str, str], _Account] = {}
        names = [p for p, _ in PROFILES]
        weights = [w for _, w in PROFILES]
        for n in range(accounts):
            account = _Account(
                f"ACC{n:07d}",
                self.rng.choices(names, weights)[0],
                Decimal(self.rng.choice((3000, 5000, 8000, 10000, 20000, 50000))),
            )
            self.accounts.append(account)
            opened = self.rng.randrange(min(20, days))
            self.actions[opened].append(("open", account))
            self.actions[opened + 1 + self.rng.randrange(10)].append(("bill", account))

    # ------------------------------------------------------------ output

    def days_of_events(self) -> Iterator[list[dict[str, Any]]]:
        """The events of each simulated day, in event-time order, DayClosed last."""
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            self.today: list[tuple[datetime, dict[str, Any]]] = []
            actions = self.actions.pop(offset, [])
            for action in actions:
                if action[0] == "watch":
                    self._watch(offset, day, *action[1:])
            self._report_overdue(offset, day)
            for action in actions:
                if action[0] != "watch":
                    getattr(self, f"_{action[0]}")(offset, day, *action[1:])
            if self.noise:
                self._add_noise(day)
            self.today.sort(key=lambda pair: pair[0])
            closed = self._event(
                None,
                "DayClosed",
                datetime.combine(day, time(23, 59), CST),
                {"business_date": day.isoformat()},
                f"day-{day.isoformat()}",
            )
            yield [event for _, event in self.today] + [closed]

    def events(self) -> Iterator[dict[str, Any]]:
        for day in self.days_of_events():
            yield from day

    def _event(
        self, account: _Account | None, kind: str, at: datetime, data: dict[str, Any], event_id: str | None = None
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": event_id or (account.next_id("e") if account else ""),
            "type": kind,
            "occurred_at": at.isoformat(),
            "schema_version": 1,
            "data": data,
        }
        if account is not None:
            event["account_id"] = account.account_id
        return event

    def _emit(self, account: _Account, kind: str, day: date, hour: float, data: dict[str, Any]) -> None:
        at = datetime.combine(day, time(0), CST) + timedelta(hours=hour)
        self.today.append((at, self._event(account, kind, at, data)))

    def _clock(self, low: float = 8, high: float = 22) -> float:
        return round(self.rng.uniform(low, high), 3)

    def _money(self, low: int, high: int) -> Decimal:
        return (Decimal(self.rng.randrange(low * 100, high * 100)) / 100).quantize(CENT)

    # ------------------------------------------------------------ behaviour

    def _open(self, offset: int, day: date, account: _Account) -> None:
        self._emit(
            account,
            "AccountOpened",
            day,
            self._clock(9, 18),
            {
                "customer_id": f"CUS{account.account_id[3:]}",
                "credit_limit": str(account.limit),
                "card_ref": f"tok_{self.rng.getrandbits(48):012x}",
                "phone": f"+861{self.rng.randrange(30, 99)}{self.rng.randrange(10**8):08d}",
            },
        )

    def _bill(self, offset: int, day: date, account: _Account) -> None:
        self.actions[offset + 30].append(("bill", account))
        if account.defaulted:
            return
        bill = _Bill(
            account.next_id("b"), self._money(100, int(account.limit) // 3), day + timedelta(days=20), Decimal(0)
        )
        bill.balance = bill.amount
        account.bills[bill.bill_id] = bill
        self._emit(
            account,
            "BillIssued",
            day,
            self._clock(6, 9),
            {
                "bill_id": bill.bill_id,
                "amount": str(bill.amount),
                "due_date": bill.due.isoformat(),
            },
        )
        due = 20
        account.bills_issued += 1
        # Late payers are late often at first, then mostly reform (which shows credit repair).
        lateness = 0.45 if account.bills_issued <= 3 else 0.05
        if account.profile == "good" or (account.profile == "late" and self.rng.random() >= lateness):
            pay_after = self.rng.randrange(2, due + 1)
        elif account.profile == "late":
            pay_after = due + self.rng.randrange(1, 13)
        elif account.profile == "struggling" and self.rng.random() < 0.5:
            pay_after = due + self.rng.randrange(20, 70)
            if self.rng.random() < 0.65:
                account.plan_at = self.rng.randrange(8, 20)
        elif account.profile == "defaulter" and self.rng.random() < 0.4:
            account.defaulted = True
            self.actions[offset + due + 1].append(("watch", account, bill.bill_id))
            return
        else:
            pay_after = self.rng.randrange(5, due + 1)
        self.actions[offset + pay_after].append(("pay", account, bill.bill_id))
        if pay_after > due:
            self.actions[offset + due + 1].append(("watch", account, bill.bill_id))

    def _pay(self, offset: int, day: date, account: _Account, bill_id: str) -> None:
        bill = account.bills.get(bill_id)
        if bill is None or bill.balance <= 0:
            return
        payment_id = account.next_id("p")
        data: dict[str, Any] = {"payment_id": payment_id, "amount": str(bill.balance), "bill_id": bill_id}
        if "#" in bill_id:
            data = {"payment_id": payment_id, "amount": str(bill.balance), "plan_id": bill_id.split("#", maxsplit=1)[0]}
        elif self.rng.random() < 0.1 and len([b for b in account.bills.values() if b.balance > 0]) == 1:
            del data["bill_id"]
        self._emit(account, "RepaymentReceived", day, self._clock(), data)
        paid = bill.balance
        bill.balance = Decimal(0)
        self.watch.pop((account.account_id, bill_id), None)
        if self.rng.random() < self._reversal_chance(account):
            self.actions[offset + 1].append(("reverse", account, payment_id, bill_id, paid))
        if account.plan_id and all(
            b.balance == 0 for b in account.bills.values() if b.bill_id.startswith(account.plan_id + "#")
        ):
            account.plan_id = None

    def _reversal_chance(self, account: _Account) -> float:
        """The chance that a repayment bounces (reversed the next day)."""
        return 0.008

    def _late_installment_chance(self, account: _Account) -> float:
        """The chance that a plan installment is paid 5-15 days late."""
        return 0.15

    def _reverse(self, offset: int, day: date, account: _Account, payment_id: str, bill_id: str, paid: Decimal) -> None:
        self._emit(
            account,
            "RepaymentReversed",
            day,
            self._clock(9, 12),
            {"payment_id": payment_id, "reason": "insufficient funds"},
        )
        bill = account.bills[bill_id]
        bill.balance += paid
        if bill.reported or day > bill.due:
            self.watch[(account.account_id, bill_id)] = account
        self.actions[offset + self.rng.randrange(1, 4)].append(("pay", account, bill_id))

    def _watch(self, offset: int, day: date, account: _Account, bill_id: str) -> None:
        """From the day after its due date, billing reports an unpaid bill overdue daily."""
        if account.bills[bill_id].balance > 0:
            self.watch[(account.account_id, bill_id)] = account

    def _report_overdue(self, offset: int, day: date) -> None:
        hour = 2.5 if self.rng.random() < 0.8 else self._clock(10, 20)
        planning: list[_Account] = []
        for (account_id, bill_id), account in list(self.watch.items()):
            bill = account.bills[bill_id]
            days_past_due = (day - bill.due).days
            if bill.balance <= 0 or days_past_due > self.reported_until:
                del self.watch[(account_id, bill_id)]
                continue
            bill.reported = True
            self._emit(
                account,
                "OverdueReported",
                day,
                hour,
                {
                    "bill_id": bill_id,
                    "days_past_due": days_past_due,
                    "outstanding": str(bill.balance),
                },
            )
            if account.plan_at and days_past_due >= account.plan_at and not account.plan_id and "#" not in bill_id:
                account.plan_at = 0
                planning.append(account)
        for account in planning:
            self._plan(offset, day, account)

    def _plan(self, offset: int, day: date, account: _Account) -> None:
        overdue = [b for b in account.bills.values() if b.balance > 0 and "#" not in b.bill_id and b.reported]
        if not overdue or account.plan_id:
            return
        total = sum((b.balance for b in overdue), Decimal(0))
        for bill in overdue:
            bill.balance = Decimal(0)
            self.watch.pop((account.account_id, bill.bill_id), None)
        account.plans += 1
        plan_id = f"{account.account_id}-plan{account.plans}"
        account.plan_id = plan_id
        count = self.rng.randrange(3, 7)
        share = (total / count).quantize(CENT)
        installments = []
        for n in range(1, count + 1):
            amount = share if n < count else total - share * (count - 1)
            due = day + timedelta(days=30 * n)
            installments.append({"due_date": due.isoformat(), "amount": str(amount)})
            bill_id = f"{plan_id}#{n}"
            account.bills[bill_id] = _Bill(bill_id, amount, due, amount)
            late = self.rng.random() < self._late_installment_chance(account)
            pay_after = 30 * n + (self.rng.randrange(5, 16) if late else -self.rng.randrange(0, 4))
            self.actions[offset + pay_after].append(("pay", account, bill_id))
            if late:
                self.actions[offset + 30 * n + 1].append(("watch", account, bill_id))
        # After the day's delinquency batch (02:30, or 10:00-20:00 on some days), never before it.
        self._emit(account, "RepaymentPlanAgreed", day, 21.5, {"plan_id": plan_id, "installments": installments})
        self.actions[offset + self.rng.randrange(1, 3)].append(("request", account))

    def _request(self, offset: int, day: date, account: _Account) -> None:
        account.requests += 1
        request_id = f"{account.account_id}-req{account.requests}"
        self._emit(account, "UnlockRequested", day, self._clock(15, 21), {"request_id": request_id})
        roll = self.rng.random()
        if roll < 0.55:
            self.actions[offset + self.rng.randrange(1, 5)].append(("review", account, request_id, True))
        elif roll < 0.7:
            self.actions[offset + self.rng.randrange(1, 5)].append(("review", account, request_id, False))
        elif roll < 0.85:
            self.actions[offset + self.rng.randrange(8, 12)].append(("review", account, request_id, True))

    def _review(self, offset: int, day: date, account: _Account, request_id: str, approved: bool) -> None:
        self._emit(
            account,
            "UnlockReviewed",
            day,
            self._clock(9, 18),
            {
                "request_id": request_id,
                "approved": approved,
                "reviewer": f"ops{self.rng.randrange(1, 9)}",
            },
        )

    def _add_noise(self, day: date) -> None:
        """Upstream retries (exact duplicates) and a few broken messages."""
        for at, event in list(self.today):
            if self.rng.random() < 0.003:
                self.today.append((at + timedelta(seconds=30), event))
        if self.rng.random() < 0.3 and self.accounts:
            account = self.rng.choice(self.accounts)
            at = datetime.combine(day, time(12), CST)
            broken = self._event(account, "BillIssued", at, {"bill_id": "x", "amount": 12.3, "due_date": "soon"})
            self.today.append((at, broken))
