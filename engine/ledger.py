"""The account ledger: what the facts say, before any policy is applied.

Bills, installments, payments and their allocations evolve from inbound
events alone, so the same facts always give the same ledger whatever the
policy. Money is Decimal throughout and is conserved: every accepted payment
is either allocated to bills or held as credit until a bill arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from events.inbound import (
    AccountClosed,
    AccountOpened,
    BillIssued,
    DayClosed,
    OverdueReported,
    RepaymentPlanAgreed,
    RepaymentReceived,
    RepaymentReversed,
)
from events.operator import ACTION_TYPES, Fact

ZERO = Decimal("0.00")


class Rejected(Exception):
    """An event the account cannot accept; it is dead-lettered with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Bill:
    """A bill or a plan installment (id `<plan_id>#<n>`) and what is still owed on it."""

    bill_id: str
    amount: Decimal
    due_date: date
    balance: Decimal
    seq: int
    plan_id: str | None = None
    days_past_due: int = 0
    max_days_past_due: int = 0
    overdue_since: date | None = None
    restructured_into: str | None = None
    settled_on: date | None = None
    counted_on_time: bool = False

    @property
    def is_open(self) -> bool:
        return self.balance > ZERO and self.restructured_into is None

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.days_past_due > 0


@dataclass(slots=True)
class Payment:
    payment_id: str
    amount: Decimal
    received_on: date
    allocations: list[tuple[str, Decimal]] = field(default_factory=list)
    credit: Decimal = ZERO
    reversed: bool = False


@dataclass(slots=True)
class Plan:
    plan_id: str
    agreed_on: date
    installment_ids: list[str]
    restructured: dict[str, Decimal]


@dataclass(slots=True)
class Ledger:
    """Slotted, like its bills and payments: the engine keeps thousands of ledgers in its cache."""

    account_id: str
    opened: bool = False
    opening_limit: Decimal = ZERO  # the credit limit the account was opened with
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    bills: dict[str, Bill] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    active_plan_id: str | None = None
    on_time_streak: int = 0
    overdue_starts: list[date] = field(default_factory=list)
    last_closed: date | None = None
    last_event_at: datetime | None = None
    closed: str | None = None  # the reason of AccountClosed: it takes repayments and reversals only
    customer: str | None = None  # AccountOpened's customer_id as recorded: sealed (its key id) or plain (legacy)

    # ------------------------------------------------------------ reading

    @property
    def original_limit(self) -> Decimal:
        return self.opening_limit

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.timezone).date()

    @property
    def overdue_outstanding(self) -> Decimal:
        return sum((b.balance for b in self.bills.values() if b.is_overdue), ZERO)

    @property
    def outstanding(self) -> Decimal:
        return sum((b.balance for b in self.bills.values() if b.is_open), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((p.credit for p in self.payments.values() if not p.reversed), ZERO)

    @property
    def days_past_due(self) -> int:
        return max((b.days_past_due for b in self.bills.values() if b.is_overdue), default=0)

    @property
    def active_plan(self) -> Plan | None:
        return self.plans[self.active_plan_id] if self.active_plan_id else None

    def installments(self, plan: Plan) -> list[Bill]:
        return [self.bills[i] for i in plan.installment_ids]

    def plan_complete(self, plan: Plan) -> bool:
        return all(b.balance == 0 for b in self.installments(plan))

    def balances(self) -> dict[str, Any]:
        """The money position readers see (events.recorded.Balances), in JSON form.

        One pass over the bills (this runs for every fact), adding in the same
        order as the properties above so the decimal results are the same.
        """
        overdue = outstanding = credit = ZERO
        days = overdue_bills = 0
        for bill in self.bills.values():
            balance = bill.balance
            if balance > ZERO and bill.restructured_into is None:  # a Decimal compared with a Decimal: faster
                outstanding += balance
                if bill.days_past_due > 0:
                    overdue += balance
                    overdue_bills += 1
                    days = max(days, bill.days_past_due)
        for payment in self.payments.values():  # as `credit` adds them, without a generator per fact
            if not payment.reversed:
                credit += payment.credit
        return {
            "overdue_outstanding": str(overdue),
            "outstanding": str(outstanding),
            "credit": str(credit),
            "days_past_due": days,
            "active_plan_id": self.active_plan_id,
            "overdue_bills": overdue_bills,
        }

    def open_bills_oldest_first(self) -> list[Bill]:
        return sorted((b for b in self.bills.values() if b.is_open), key=lambda b: (b.due_date, b.seq))

    # ------------------------------------------------------------ checking

    def check(self, event: Fact) -> None:
        """Raise Rejected if the event cannot apply; called before anything changes."""
        if isinstance(event, AccountOpened):
            if self.opened:
                raise Rejected("account_id: account already opened")
            return
        if not self.opened:
            raise Rejected("account_id: unknown account (no AccountOpened recorded)")
        if (
            self.closed is not None
            and not isinstance(event, (RepaymentReceived, RepaymentReversed))
            and event.type not in ACTION_TYPES
        ):
            raise Rejected(f"account_id: account closed ({self.closed}): it takes repayments and reversals only")
        if isinstance(event, BillIssued) and event.data.bill_id in self.bills:
            raise Rejected("data.bill_id: bill already issued")
        if isinstance(event, RepaymentReceived) and event.data.payment_id in self.payments:
            raise Rejected("data.payment_id: payment already received")
        if isinstance(event, RepaymentReversed):
            payment = self.payments.get(event.data.payment_id)
            if payment is None:
                raise Rejected("data.payment_id: unknown payment")
            if payment.reversed:
                raise Rejected("data.payment_id: payment already reversed")
        elif isinstance(event, OverdueReported):
            bill = self.bills.get(event.data.bill_id)
            if bill is None:
                raise Rejected("data.bill_id: unknown bill or installment")
            if bill.restructured_into is not None:
                raise Rejected(
                    f"data.bill_id: bill was restructured into plan {bill.restructured_into}; "
                    "report its installments instead"
                )
        elif isinstance(event, RepaymentPlanAgreed):
            if self.active_plan_id is not None:
                raise Rejected(f"data.plan_id: plan {self.active_plan_id} is still active")
            if event.data.plan_id in self.plans:
                raise Rejected("data.plan_id: plan already agreed")
            ids = {f"{event.data.plan_id}#{n}" for n in range(1, len(event.data.installments) + 1)}
            if ids & self.bills.keys():
                raise Rejected("data.plan_id: installment ids collide with issued bills")

    # ------------------------------------------------------------ applying

    def apply(self, event: Fact) -> None:
        """Apply a checked fact. Deterministic: it reads only the event and the ledger."""
        day = self.local_date(event.occurred_at)
        if isinstance(event, DayClosed):
            self.last_closed = event.data.business_date
            return
        if isinstance(event, AccountOpened):
            self.opened = True
            self.customer = event.data.customer_id
            self.opening_limit = event.data.credit_limit
            self.timezone = ZoneInfo(event.data.timezone)
        elif isinstance(event, BillIssued):
            self._add_bill(event.data.bill_id, event.data.amount, event.data.due_date, day)
        elif isinstance(event, RepaymentReceived):
            self._receive(event, day)
        elif isinstance(event, RepaymentReversed):
            self._reverse(self.payments[event.data.payment_id])
        elif isinstance(event, OverdueReported):
            self._report_overdue(event, day)
        elif isinstance(event, RepaymentPlanAgreed):
            self._agree_plan(event, day)
        elif isinstance(event, AccountClosed):
            self.closed = event.data.reason
        # reviews, retractions (engine.retraction) and operators' actions are the policy's business
        plan = self.active_plan
        if plan is not None and self.plan_complete(plan):
            self.active_plan_id = None
        self.last_event_at = event.occurred_at

    def _add_bill(self, bill_id: str, amount: Decimal, due: date, day: date, plan_id: str | None = None) -> None:
        self.bills[bill_id] = Bill(bill_id, amount, due, amount, seq=len(self.bills), plan_id=plan_id)
        self._apply_credit(day)

    def _apply_credit(self, day: date) -> None:
        for payment in self.payments.values():
            if payment.credit > 0 and not payment.reversed:
                payment.credit = self._allocate(payment, payment.credit, self.open_bills_oldest_first(), day)

    def _allocate(self, payment: Payment, amount: Decimal, bills: list[Bill], day: date) -> Decimal:
        """Pay bills in the given order; return what is left over."""
        for bill in bills:
            if amount == 0:
                break
            if not bill.is_open:
                continue
            paid = min(amount, bill.balance)
            bill.balance -= paid
            amount -= paid
            payment.allocations.append((bill.bill_id, paid))
            if bill.balance == 0:
                self._settle(bill, day)
        return amount

    def _settle(self, bill: Bill, day: date) -> None:
        bill.settled_on = day
        if bill.plan_id is None and bill.max_days_past_due == 0 and day <= bill.due_date:
            bill.counted_on_time = True
            self.on_time_streak += 1

    def _receive(self, event: RepaymentReceived, day: date) -> None:
        data = event.data
        payment = Payment(data.payment_id, data.amount, day)
        self.payments[data.payment_id] = payment
        targeted: list[Bill] = []
        if data.bill_id in self.bills:
            targeted = [self.bills[data.bill_id]]
        elif data.plan_id in self.plans:
            targeted = self.installments(self.plans[data.plan_id])
        left = self._allocate(payment, data.amount, targeted, day)
        payment.credit = self._allocate(payment, left, self.open_bills_oldest_first(), day)

    def _reverse(self, payment: Payment) -> None:
        for bill_id, paid in payment.allocations:
            bill = self.bills[bill_id]
            bill.balance += paid
            bill.settled_on = None
            if bill.counted_on_time:
                bill.counted_on_time = False
                self.on_time_streak = max(0, self.on_time_streak - 1)
        payment.credit = ZERO
        payment.reversed = True

    def _report_overdue(self, event: OverdueReported, day: date) -> None:
        bill = self.bills[event.data.bill_id]
        if bill.max_days_past_due == 0:
            bill.overdue_since = day
            if bill.plan_id is None:
                self.overdue_starts.append(day)
            self.on_time_streak = 0
        bill.balance = event.data.outstanding  # billing's figure is authoritative (fees included)
        bill.settled_on = None
        bill.days_past_due = event.data.days_past_due
        bill.max_days_past_due = max(bill.max_days_past_due, event.data.days_past_due)

    def _agree_plan(self, event: RepaymentPlanAgreed, day: date) -> None:
        data = event.data
        restructured = {}
        for bill in self.bills.values():
            if bill.is_overdue and bill.plan_id is None:
                restructured[bill.bill_id] = bill.balance
                bill.restructured_into = data.plan_id
        plan = Plan(data.plan_id, day, [], restructured)
        self.plans[data.plan_id] = plan
        self.active_plan_id = data.plan_id
        for n, installment in enumerate(data.installments, start=1):
            bill_id = f"{data.plan_id}#{n}"
            plan.installment_ids.append(bill_id)
            self.bills[bill_id] = Bill(
                bill_id,
                installment.amount,
                installment.due_date,
                installment.amount,
                seq=len(self.bills),
                plan_id=data.plan_id,
            )
        self._apply_credit(day)
