"""A synthetic portfolio whose behaviour comes from a latent risk the scorecard never sees.

Each customer has a hidden risk `z` (normal, drifting a little from bill to
bill, with rare shocks such as a lost job). It drives every behaviour the
billing events show: how much of the limit a bill uses, whether a bill is paid
late, how late, whether a repayment bounces, whether the customer stops paying
altogether. No event carries `z`; a scorecard can only infer it from the
history, as a real one must, which is what lets an honest scorecard beat the
ranking by current days past due. Accounts open over the first 30 days, so
months on book varies a little; billing stops reporting a bill daily once it
is 120 days past due (handed to a collection agency), which keeps the
portfolio's event count, and the demo's run time, in proportion.

`fengkong demo` runs this portfolio; the benchmark keeps `Portfolio` (its
workload stays byte for byte what it was). Same seed, same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.synthetic.portfolio import CENT, Portfolio, _Account, _Bill

OPENING_DAYS = 30  # accounts open over the first 30 days
RISK_MEAN = 0.8  # the latent risk is normal(RISK_MEAN, 1) at opening
PLAN_CHANCE = 0.25  # a seriously late customer agrees a repayment plan at 8-19 days past due
REPORTED_UNTIL = 60  # past this, billing hands a bill to a collection agency and stops its daily report
DUE_DAYS = 20  # a bill is due 20 days after it is issued


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass
class _LatentAccount(_Account):
    risk: float = 0.0  # the latent risk: never in an event


class LatentPortfolio(Portfolio):
    """Billing for `accounts` accounts over `days` days, behaviour drawn from each one's latent risk."""

    reported_until = REPORTED_UNTIL

    def __init__(self, accounts: int, days: int, seed: int, start: date = date(2026, 3, 2), noise: bool = False):
        super().__init__(0, days, seed, start, noise)
        limits = (3000, 5000, 8000, 10000, 20000, 50000)
        for n in range(accounts):
            account = _LatentAccount(
                f"ACC{n:07d}", "latent", Decimal(self.rng.choice(limits)), risk=self.rng.gauss(RISK_MEAN, 1.0)
            )
            self.accounts.append(account)
            opened = self.rng.randrange(min(OPENING_DAYS, days))
            self.actions[opened].append(("open", account))
            self.actions[opened + 1 + self.rng.randrange(10)].append(("bill", account))
        self._by_id = {account.account_id: account for account in self.accounts}
        self._added: list[tuple[datetime, dict[str, Any]]] = []  # the gateway's events of the day

    def _bill(self, offset: int, day: date, account: _Account) -> None:
        self.actions[offset + 30].append(("bill", account))
        if account.defaulted:
            return
        assert isinstance(account, _LatentAccount)
        rng = self.rng
        account.risk += rng.gauss(0.0, 0.1)
        if rng.random() < 0.01:  # a shock: a lost job, an illness
            account.risk += rng.uniform(1.0, 2.0)
        z = account.risk
        share = min(0.95, _sigmoid(-1.4 + 0.7 * z) * rng.uniform(0.4, 1.6))
        amount = max(Decimal(100), (account.limit * Decimal(str(round(share, 4)))).quantize(CENT))
        bill = _Bill(account.next_id("b"), amount, day + timedelta(days=DUE_DAYS), amount)
        account.bills[bill.bill_id] = bill
        account.bills_issued += 1
        self._emit(
            account,
            "BillIssued",
            day,
            self._clock(6, 9),
            {"bill_id": bill.bill_id, "amount": str(amount), "due_date": bill.due.isoformat()},
        )
        if rng.random() < _sigmoid(-6.0 + 1.5 * z):  # stops paying for good
            account.defaulted = True
            self.actions[offset + DUE_DAYS + 1].append(("watch", account, bill.bill_id))
            return
        if rng.random() < _sigmoid(-3.2 + 1.4 * z):  # late
            if rng.random() < _sigmoid(0.9 * z):  # seriously: a month or more
                pay_after = DUE_DAYS + rng.randrange(30, 45)
                if rng.random() < PLAN_CHANCE:
                    account.plan_at = rng.randrange(8, 20)
            else:
                pay_after = DUE_DAYS + rng.randrange(1, 15)
        else:
            pay_after = rng.randrange(2, DUE_DAYS + 1)
        self.actions[offset + pay_after].append(("pay", account, bill.bill_id))
        if pay_after > DUE_DAYS:
            self.actions[offset + DUE_DAYS + 1].append(("watch", account, bill.bill_id))

    # ------------------------------------------------------------ for the notice gateway (adapters.synthetic.gateway)

    def _call(self, offset: int, day: date, action: Callable[[date], None]) -> None:
        """An action of another part of the simulation on this day (the notice gateway's reports)."""
        action(day)

    def has(self, account_id: str) -> bool:
        return account_id in self._by_id

    def latent_risk(self, account_id: str) -> float:
        account = self._by_id[account_id]
        assert isinstance(account, _LatentAccount)
        return account.risk

    def overdue_balance(self, account_id: str) -> Decimal:
        """What billing reported overdue and the customer has not paid yet."""
        bills = self._by_id[account_id].bills.values()
        return sum((bill.balance for bill in bills if bill.reported and bill.balance > 0), Decimal(0))

    def days_to_payment(self, account_id: str, offset: int, horizon: int) -> int | None:
        """In how many days after day `offset` the customer's next repayment is scheduled (None: not within
        `horizon` days): what a customer who means a promise to pay knows of it."""
        for ahead in range(1, horizon + 1):
            for action in self.actions.get(offset + ahead, ()):
                if action[0] == "pay" and action[1].account_id == account_id:
                    return ahead
        return None

    def add_event(self, account_id: str, kind: str, at: datetime, data: dict[str, Any], event_id: str) -> None:
        """An event of the day being simulated (called from a `_call` action), added after billing's noise:
        the billing events, retries included, are the same with and without the gateway."""
        event = (at, self._event(self._by_id[account_id], kind, at, data, event_id))
        (self._added if self.noise else self.today).append(event)

    def _add_noise(self, day: date) -> None:
        super()._add_noise(day)
        self.today.extend(self._added)
        self._added = []

    def _reversal_chance(self, account: _Account) -> float:
        assert isinstance(account, _LatentAccount)
        return _sigmoid(-5.5 + 1.0 * account.risk)

    def _late_installment_chance(self, account: _Account) -> float:
        assert isinstance(account, _LatentAccount)
        return _sigmoid(-2.0 + 1.0 * account.risk)
