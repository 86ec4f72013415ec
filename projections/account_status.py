"""account_status: one row per account, what an analyst or operator asks first.

The balances come from each fact's recorded balances, the controls (locks,
limit, score, review) from the decisions' changes, so the row agrees with the
aggregate that `fengkong account` loads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from events.inbound import AccountClosed, AccountOpened, DayClosed
from events.operator import ACTIONS
from events.recorded import account_status, delinquency_bucket
from projections.base import (
    Column,
    DecisionRecorded,
    FactRecorded,
    Projection,
    Recorded,
    Row,
    Table,
    Tables,
    money,
    utc,
)
from projections.base import ColumnType as T

ACCOUNT_STATUS = Table(
    "account_status",
    "One row per account: status, locks, limit, balances, delinquency, plan, review, score.",
    (
        Column("account_id", T.TEXT, "the account"),
        Column("customer_id", T.TEXT, "billing's customer id, from AccountOpened"),
        Column("currency", T.TEXT, "ISO 4217 code of the credit line"),
        Column("timezone", T.TEXT, "the account's IANA time zone (AccountOpened); times are shown in it"),
        Column("status", T.TEXT, "one word: locked, suspended (plan path, card unlocked), overdue or current"),
        Column("card_locked", T.BOOLEAN, "the linked card is locked (last card command was LockCard)"),
        Column("credit_line_suspended", T.BOOLEAN, "the credit line is suspended"),
        Column("original_limit", T.MONEY, "credit limit at opening"),
        Column("credit_limit", T.MONEY, "current credit limit after cuts and repair steps"),
        Column("overdue_outstanding", T.MONEY, "unpaid balance of bills and installments reported overdue"),
        Column("outstanding", T.MONEY, "unpaid balance of all open bills and installments"),
        Column("credit_balance", T.MONEY, "overpayment held as credit"),
        Column("days_past_due", T.INTEGER, "largest days past due among the account's overdue bills (0 if none)"),
        Column("delinquency_bucket", T.TEXT, "current, 1-30, 31-60, 61-90, 91-180 or 180+ (from days_past_due)"),
        Column("overdue_bills", T.INTEGER, "number of bills and installments currently overdue"),
        Column("active_plan_id", T.TEXT, "the repayment plan in force, if any", nullable=True),
        Column("review_request_id", T.TEXT, "the open unlock review's request id, if any", nullable=True),
        Column("review_requested_on", T.DATE, "local date the open review was applied for", nullable=True),
        Column("review_deadline", T.DATE, "business date by which the open review must be decided", nullable=True),
        Column("review_escalated", T.BOOLEAN, "the open review passed its deadline and went to operations"),
        Column("score", T.INTEGER, "internal credit score"),
        Column("bureau_flag", T.BOOLEAN, "marked for credit-bureau reporting (accumulated defaults)"),
        Column("notices_dropped", T.INTEGER, "notices not sent because of the contact-frequency limit"),
        Column(
            "held_lock_id",
            T.TEXT,
            "an automatic lock the emergency brake holds for an operator (its LockCard's command id), if any",
            nullable=True,
        ),
        Column("closed_reason", T.TEXT, "why the account was closed (AccountClosed), if it was", nullable=True),
        Column("risk_tier", T.TEXT, "the default probability's risk tier last recorded (default-v2)", nullable=True),
        Column("default_probability", T.RATIO, "that probability (scorecard in `scorecard`)", nullable=True),
        Column("scorecard", T.TEXT, "the scorecard version that gave it", nullable=True),
        Column("watch_since", T.TIMESTAMP, "on the early-warning watch list since (UTC)", nullable=True),
        Column("watch_reason", T.TEXT, "the signal that put it there", nullable=True),
        Column("policy_version", T.TEXT, "policy the last fact was decided under"),
        Column("opened_at", T.TIMESTAMP, "event time of AccountOpened (UTC)"),
        Column(
            "last_event_at",
            T.TIMESTAMP,
            "event time of the last billing fact (UTC; DayClosed and operators' actions not counted)",
        ),
        Column("last_event_id", T.TEXT, "event_id of that fact"),
        Column("last_event_type", T.TEXT, "type of that fact"),
        Column("last_position", T.INTEGER, "notification id of the last stored event that changed this row"),
    ),
    key=("account_id",),
    indexes=(("status",), ("delinquency_bucket",), ("card_locked",), ("review_deadline",)),
)

_NOT_BILLING = frozenset(model.__name__ for model in (DayClosed, *ACTIONS))
"""Fact types that are not billing facts (the clock's date, operators' actions): not the row's last event."""

DEFAULT_ZONE = "Asia/Shanghai"  # the contract's default; a row made before its AccountOpened keeps it

# Decision change field -> (column, decoder).
_CHANGES: dict[str, tuple[str, Any]] = {
    "card_locked": ("card_locked", bool),
    "line_suspended": ("credit_line_suspended", bool),
    "credit_limit": ("credit_limit", money),
    "score": ("score", int),
    "bureau_flag": ("bureau_flag", bool),
    "review_id": ("review_request_id", lambda v: None if v is None else str(v)),
    "review_deadline": ("review_deadline", lambda v: None if v is None else date.fromisoformat(v)),
    "review_escalated": ("review_escalated", bool),
    "notices_dropped": ("notices_dropped", int),
    "held": ("held_lock_id", lambda v: None if v is None else str(v["id"])),
    "risk_tier": ("risk_tier", lambda v: None if v is None else str(v)),
    "watch_since": ("watch_since", lambda v: None if v is None else utc(datetime.fromisoformat(v))),
    "watch_reason": ("watch_reason", lambda v: None if v is None else str(v)),
}


def _new_row(account_id: str) -> Row:
    return {
        "account_id": account_id,
        "customer_id": "",
        "currency": "",
        "timezone": DEFAULT_ZONE,
        "status": "current",
        "card_locked": False,
        "credit_line_suspended": False,
        "original_limit": money("0"),
        "credit_limit": money("0"),
        "overdue_outstanding": money("0"),
        "outstanding": money("0"),
        "credit_balance": money("0"),
        "days_past_due": 0,
        "delinquency_bucket": "current",
        "overdue_bills": 0,
        "active_plan_id": None,
        "review_request_id": None,
        "review_requested_on": None,
        "review_deadline": None,
        "review_escalated": False,
        "score": 0,
        "bureau_flag": False,
        "notices_dropped": 0,
        "held_lock_id": None,
        "closed_reason": None,
        "risk_tier": None,
        "default_probability": None,
        "scorecard": None,
        "watch_since": None,
        "watch_reason": None,
        "policy_version": "",
        "opened_at": None,
        "last_event_at": None,
        "last_event_id": "",
        "last_event_type": "",
        "last_position": 0,
    }


class AccountStatus(Projection):
    name = "account_status"
    version = 5  # 2: review_requested_on, an index on review_deadline; 3: timezone; 4: held_lock_id, closed_reason;
    # 5: risk tier, watch list
    tables = (ACCOUNT_STATUS,)
    doc = "One row per account with its current status."
    weight = 35
    reads = frozenset({FactRecorded, DecisionRecorded})

    def apply(self, event: Recorded, tables: Tables) -> None:
        if isinstance(event, FactRecorded):
            row = tables.get(ACCOUNT_STATUS, (event.account_id,)) or _new_row(event.account_id)
            self._fact(row, event)
        elif isinstance(event, DecisionRecorded):
            found = tables.get(ACCOUNT_STATUS, (event.account_id,))
            if found is None:
                return
            row = found
            changes = event.decision.changes
            for field, value in changes.items():
                if field in _CHANGES:
                    column, decode = _CHANGES[field]
                    row[column] = decode(value)
            if "risk_tier" in changes:  # score.tier: the facts are the score's
                facts = event.decision.facts
                row["default_probability"] = float(facts["probability"])
                row["scorecard"] = facts["scorecard"]
            if "review_id" in changes:
                requested = event.decision.facts.get("requested_on") if changes["review_id"] is not None else None
                row["review_requested_on"] = None if requested is None else date.fromisoformat(requested)
        else:
            return
        row["status"] = account_status(row["card_locked"], row["credit_line_suspended"], row["overdue_outstanding"])
        row["last_position"] = event.position
        tables.put(ACCOUNT_STATUS, row)

    @staticmethod
    def _fact(row: Row, event: FactRecorded) -> None:
        kind, balances = event.fact_type, event.balances
        if kind == "AccountOpened":  # the fact's model is built only for the facts whose data the row takes
            fact = event.fact
            assert isinstance(fact, AccountOpened)
            row["customer_id"] = fact.data.customer_id
            row["currency"] = fact.data.currency
            row["timezone"] = fact.data.timezone
            row["original_limit"] = money(fact.data.credit_limit)
            row["opened_at"] = utc(fact.occurred_at)
        elif kind == "AccountClosed":
            closed = event.fact
            assert isinstance(closed, AccountClosed)
            row["closed_reason"] = closed.data.reason
        if kind not in _NOT_BILLING:
            row["last_event_at"] = utc(event.occurred_at)
            row["last_event_id"] = event.event_id
            row["last_event_type"] = kind
        row["overdue_outstanding"] = money(balances.overdue_outstanding)
        row["outstanding"] = money(balances.outstanding)
        row["credit_balance"] = money(balances.credit)
        row["days_past_due"] = balances.days_past_due
        row["delinquency_bucket"] = delinquency_bucket(balances.days_past_due)
        row["overdue_bills"] = balances.overdue_bills
        row["active_plan_id"] = balances.active_plan_id
        row["policy_version"] = event.policy_version
