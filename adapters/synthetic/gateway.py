"""A messaging gateway for the synthetic portfolio: what became of each notice the engine sent.

`fengkong demo` hands every day's `SendNotice` commands to the gateway, which
reports on them the next day, as a gateway's overnight batch would
(`NoticeOutcomeReported`, contract 1.1, naming the command's id): an SMS fails
now and then (the policy re-sends it by app push), the rest are delivered and
some read or replied to; a customer reached by an overdue notice may promise
to pay the overdue balance. One who will pay within a week (the billing
simulation has scheduled it) promises that day half the time; one who will
not promises a day within the week now and then, more often the riskier
(its latent risk, adapters.synthetic.latent). Whether a promise is kept is
not drawn: the billing that follows decides it (a payment of one bill of
several falls short), so the promise-kept rate tells riskier customers apart
as it would in life. Operations notices get no outcome.

Its draws come from a random generator of its own: the billing events are the
same with and without it (only its events are added).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from adapters.synthetic.latent import LatentPortfolio
from adapters.synthetic.portfolio import CST
from events.commands import SendNotice

FAILED = {"sms": 0.06, "app_push": 0.03}  # the chance a notice of the channel fails
READ, REPLIED = 0.2, 0.04
HONEST_PROMISE = 0.5  # the chance a customer who will pay within a week says when
EMPTY_PROMISE = 0.12  # the most a customer who will not pay within a week promises (at high latent risk)
WEEK = 7


class NoticeGateway:
    def __init__(self, portfolio: LatentPortfolio, seed: int) -> None:
        self.portfolio = portfolio
        self.rng = random.Random(f"gateway-{seed}")
        self.reports = 0

    def sent(self, offset: int, notices: Iterable[SendNotice]) -> None:
        """Notices the engine sent on day `offset`: their outcomes are reported on the next day."""
        due = [notice for notice in notices if notice.channel != "ops"]
        if due:
            self.portfolio.actions[offset + 1].append(("call", lambda day: self._report(offset + 1, day, due)))

    def _report(self, offset: int, day: date, notices: list[SendNotice]) -> None:
        rng = self.rng
        for notice in notices:
            account = notice.account_id
            if not self.portfolio.has(account):
                continue
            overnight = datetime.combine(day, time(1), CST) + timedelta(minutes=rng.randrange(240))
            if rng.random() < FAILED.get(notice.channel, 0.05):
                self._outcome(account, notice, "failed", overnight)
                continue
            self._outcome(account, notice, "delivered", overnight)
            daytime = datetime.combine(day, time(9), CST) + timedelta(minutes=rng.randrange(660))
            promise = self._promise(account, notice, offset, day)
            if promise is not None:
                self._outcome(account, notice, "promise_to_pay", daytime, promise)
            elif rng.random() < REPLIED:
                self._outcome(account, notice, "replied", daytime)
            elif rng.random() < READ:
                self._outcome(account, notice, "read", daytime)

    def _promise(self, account: str, notice: SendNotice, offset: int, day: date) -> dict[str, str] | None:
        """A promise to pay the overdue balance: kept if the customer meant it (and pays it all)."""
        if not notice.template.startswith("overdue_"):
            return None
        owed = self.portfolio.overdue_balance(account)
        if owed <= 0:
            return None
        paying = self.portfolio.days_to_payment(account, offset, WEEK)
        if paying is not None:
            if self.rng.random() >= HONEST_PROMISE:
                return None
            promised = day + timedelta(days=paying)
        else:
            chance = EMPTY_PROMISE / (1 + math.exp(1.5 - self.portfolio.latent_risk(account)))
            if self.rng.random() >= chance:
                return None
            promised = day + timedelta(days=self.rng.randrange(2, WEEK + 1))
        return {"promised_amount": str(owed), "promised_date": promised.isoformat()}

    def _outcome(
        self, account: str, notice: SendNotice, outcome: str, at: datetime, extra: dict[str, Any] | None = None
    ) -> None:
        self.reports += 1
        data = {"command_id": notice.command_id, "outcome": outcome, **(extra or {})}
        self.portfolio.add_event(account, "NoticeOutcomeReported", at, data, f"{account}-o{self.reports}")
