"""Building contract events in tests, and running them through a pure account."""

from __future__ import annotations

import itertools
import json
from typing import Any

from engine.account import CreditAccount
from engine.policy import Policy, ScoringRule, load_policy
from engine.rules import Decision
from engine.scoring.features import ATTRIBUTES
from engine.scoring.scorecard import Scorecard
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

    def outcome(
        self, command_id: str, outcome: str, at: str, amount: str | None = None, promised: str | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"command_id": command_id, "outcome": outcome}
        if amount is not None:
            data.update(promised_amount=amount, promised_date=promised)
        return self.make("NoticeOutcomeReported", at, data)


def parsed(event: dict[str, Any]) -> ParsedEvent:
    return parse_event(json.dumps(event))


def run(events: list[dict[str, Any]], policy: Policy = DEFAULT) -> tuple[CreditAccount, list[list[Decision]]]:
    """Apply events to one in-memory account (no store): its decisions per event."""
    account = CreditAccount(events[0]["account_id"])
    return account, [account.handle(parsed(e), policy) for e in events]


def play(account: CreditAccount, events: list[dict[str, Any]], policy: Policy = DEFAULT) -> list[list[Decision]]:
    """Apply more events to an account `run` started."""
    return [account.handle(parsed(e), policy) for e in events]


def sent(decisions: list[Decision], command_type: str = "SendNotice") -> list[dict[str, Any]]:
    """The commands of a type among decisions."""
    return [d.command for d in decisions if d.command and d.command["type"] == command_type]


def rules_of(decided: list[list[Decision]]) -> list[str]:
    return [d.rule for ds in decided for d in ds]


def _bins(*specs: tuple[str | None, str | None, int], missing: int | None = None) -> list[dict[str, Any]]:
    common = {"woe": "0", "accounts": 10, "positives": 1, "share": "0.5"}
    out = [{"label": f"{lo}..{hi}", "lower": lo, "upper": hi, "points": p, **common} for lo, hi, p in specs]
    if missing is not None:
        out.append({"label": "none recorded", "missing": True, "points": missing, **common})
    return out


def tiny_scorecard() -> Scorecard:
    """A scorecard tests can steer: 520 base points, +40 under half the limit used, +40 without a reversal.

    600 points: A (probability 0.0196); 560: B (0.0742); 520: E (0.2424); tiers A-E like pd-demo-v1's names.
    """
    attributes = {name: _bins((None, None, 0)) for name in ATTRIBUTES}
    attributes["utilisation"] = _bins((None, "0.5", 40), ("0.5", None, 0))
    attributes["reversals_12m"] = _bins((None, "1", 40), ("1", None, 0))
    attributes["promise_kept_rate"] = _bins((None, None, 0), missing=0)
    return Scorecard.model_validate(
        {
            "version": "tiny-v1",
            "scaling": {"base_score": 600, "base_odds": "50", "pdo": 20},
            "base_points": 520,
            "attributes": [
                {"name": n, "trend": "none", "coefficient": "-1", "information_value": "0.1", "bins": b}
                for n, b in attributes.items()
            ],
            "tiers": [
                {"name": "A", "max_probability": "0.05"},
                {"name": "B", "max_probability": "0.10"},
                {"name": "C", "max_probability": "0.15"},
                {"name": "D", "max_probability": "0.20"},
                {"name": "E", "max_probability": None},
            ],
            "score_bands": [],
            "training": {"as_of": "2026-07-01", "horizon_days": 90},
            "out_of_time": {"as_of": "2026-09-29", "horizon_days": 90},
            "metrics": {"training": {"auc": 0.8, "ks": 0.5, "baseline_auc": 0.7}},
        }
    )


def v2(scorecard: Scorecard | None = None, **sections: Any) -> Policy:
    """default-v2 with the tiny scorecard (or another) and sections replaced."""
    card = scorecard or tiny_scorecard()
    policy = load_policy("default-v2").model_copy(update={"scoring": ScoringRule(scorecard=card.version), **sections})
    return policy.bind_scorecard(lambda version: card)


def commands(decisions: list[Decision]) -> list[tuple[str, str]]:
    """(command type, rule) of each decision that emitted a command."""
    return [(d.command["type"], d.rule) for d in decisions if d.command]
